"""``trigger.Toggle`` run by the real engine: it flips a trigger's ``disabled`` state (another
flow's, or its own flow's by default), fails clearly when the trigger has no state, and the
corpus's ``trigger-toggle`` flow deploys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.executions_support import create, deploy
from tests.api.test_triggers import HOURLY, seed

from lanner.api.context import Services
from lanner.engine.service import Engine

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "kestra-flows"

TOGGLE = """\
id: toggler
namespace: {ns}
tasks:
  - id: switch
    type: io.kestra.plugin.core.trigger.Toggle
    namespace: "{{{{ flow.namespace }}}}"
    flowId: hourly
    trigger: every-hour
    enabled: "{{{{ inputs.on }}}}"
inputs:
  - id: on
    type: BOOLEAN
"""

MISSING = """\
id: missing
namespace: {ns}
tasks:
  - id: switch
    type: io.kestra.core.tasks.trigger.Toggle
    flowId: hourly
    trigger: nope
"""


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def run(api: httpx.AsyncClient, ns: str, flow: str, **kwargs: Any) -> dict[str, Any]:
    return await asyncio.wait_for(create(api, ns, flow, params={"wait": "true"}, **kwargs), 30)


@pytest.mark.usefixtures("engine")
async def test_toggle_disables_and_enables_a_trigger(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, HOURLY.format(ns=ns))
    await seed(services, ns)
    await deploy(api, TOGGLE.format(ns=ns))
    off = await run(api, ns, "toggler", data={"on": "false"})
    assert off["state"]["current"] == "SUCCESS"
    state = await services.store.get_trigger("main", ns, "hourly", "every-hour")
    assert state is not None
    assert state.disabled is True
    listed = (await api.get(f"/api/v1/triggers/{ns}/hourly")).json()
    assert [t["disabled"] for t in listed["results"] if t["triggerId"] == "every-hour"] == [True]
    on = await run(api, ns, "toggler", data={"on": "true"})
    assert on["state"]["current"] == "SUCCESS"
    state = await services.store.get_trigger("main", ns, "hourly", "every-hour")
    assert state is not None
    assert state.disabled is False


@pytest.mark.usefixtures("engine")
async def test_toggle_of_a_trigger_without_state_fails(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, HOURLY.format(ns=ns))
    await deploy(api, MISSING.format(ns=ns))
    body = await run(api, ns, "missing")
    assert body["state"]["current"] == "FAILED"
    logs = (await api.get(f"/api/v1/logs/{body['id']}", params={"minLevel": "ERROR"})).json()
    assert any("Unable to find trigger 'nope'" in line["message"] for line in logs)


async def test_the_corpus_toggle_flow_deploys(api: httpx.AsyncClient) -> None:
    source = (CORPUS / "valid" / "trigger-toggle.yaml").read_text(encoding="utf-8")
    response = await api.put(  # PUT creates or updates: other runs may have deployed it
        "/api/v1/flows/io.kestra.tests.trigger/trigger-toggle",
        content=source,
        headers={"Content-Type": "application/x-yaml"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["tasks"][0]["type"] == "io.kestra.core.tasks.trigger.Toggle"
