"""Flow triggers through the API with the real engine: flows deployed by ``POST /flows``, the
upstream run by ``POST /executions``, the downstream found by ``/executions/search``; and the
webhook's conditions of every type."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.executions_support import deploy

from lanner.api.context import Services
from lanner.engine.service import Engine

CORPUS = Path(__file__).resolve().parents[2] / "../shared/conformance/kestra-flows/valid"
DEADLINE_S = 20.0


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield running
    finally:
        await running.stop(grace_s=1.0)


async def searched(api: httpx.AsyncClient, ns: str, flow_id: str) -> list[dict[str, Any]]:
    answer = await api.get(
        "/api/v1/executions/search", params={"namespace": ns, "flowId": flow_id, "size": 50}
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["results"])


async def ended(api: httpx.AsyncClient, ns: str, flow_id: str, count: int) -> list[dict[str, Any]]:
    """Wait until ``flow_id`` has ``count`` ended executions."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE_S
    while True:
        found = await searched(api, ns, flow_id)
        done = [e for e in found if e["state"]["current"] in ("SUCCESS", "FAILED", "WARNING")]
        if len(done) >= count:
            return done
        assert loop.time() < end, f"{flow_id}: {len(done)} of {count} ended"
        await asyncio.sleep(0.05)


async def settled(services: Services) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE_S
    while await services.store.pending_transitions(1):
        assert loop.time() < end
        await asyncio.sleep(0.02)


def upstream(ns: str) -> str:
    return f"""
id: up
namespace: {ns}
inputs:
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: maybe
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ inputs.fail }}}}"
    then:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
outputs:
  - id: answer
    type: INT
    value: 42
"""


def downstream(ns: str, flow_id: str, states: str, *, with_outputs: bool = True) -> str:
    # A FAILED upstream has no flow outputs: ``trigger.outputs`` would not render there.
    inputs = '    inputs:\n      answer: "{{ trigger.outputs.answer }}"\n' if with_outputs else ""
    return f"""
id: {flow_id}
namespace: {ns}
inputs:
  - id: answer
    type: INT
    defaults: 0
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.executionId }}}} {{{{ trigger.state }}}} {{{{ inputs.answer }}}}"
triggers:
  - id: listen
    type: io.kestra.plugin.core.trigger.Flow
    states: {states}
{inputs}    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: {ns}
        flowId: up
"""


@pytest.mark.usefixtures("engine")
async def test_downstream_starts_on_success_and_only_on_failed_when_told(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, upstream(ns))
    await deploy(api, downstream(ns, "on_success", "[SUCCESS]"))
    await deploy(api, downstream(ns, "on_failure", "[FAILED]", with_outputs=False))
    first = await api.post(f"/api/v1/executions/{ns}/up", params={"wait": "true"})
    assert first.status_code == 200, first.text
    assert first.json()["state"]["current"] == "SUCCESS"
    [success] = await ended(api, ns, "on_success", 1)
    assert success["trigger"]["variables"]["executionId"] == first.json()["id"]
    assert success["inputs"] == {"answer": 42}
    detail = await api.get(f"/api/v1/executions/{success['id']}")
    [run] = [r for r in detail.json()["taskRunList"] if r["taskId"] == "show"]
    assert run["outputs"]["value"] == f"{first.json()['id']} SUCCESS 42"
    await settled(services)
    assert await searched(api, ns, "on_failure") == []

    second = await api.post(
        f"/api/v1/executions/{ns}/up", params={"wait": "true"}, files={"fail": (None, "true")}
    )
    assert second.json()["state"]["current"] == "FAILED"
    [failure] = await ended(api, ns, "on_failure", 1)
    assert failure["trigger"]["variables"]["state"] == "FAILED"
    assert failure["inputs"] == {"answer": 0}
    assert failure["trigger"]["type"] == "io.kestra.plugin.core.trigger.Flow"
    await settled(services)
    assert len(await searched(api, ns, "on_success")) == 1


@pytest.mark.usefixtures("engine")
async def test_corpus_flow_trigger_flows_deploy_and_listen(
    api: httpx.AsyncClient, services: Services
) -> None:
    names = sorted(
        p.stem for p in CORPUS.glob("*.yaml") if "trigger" in p.stem and "toggle" not in p.stem
    )
    for name in names:
        await deploy(api, (CORPUS / f"{name}.yaml").read_text())
    upstream_run = await api.post(
        "/api/v1/executions/io.kestra.tests.trigger/trigger-flow", params={"wait": "true"}
    )
    assert upstream_run.json()["state"]["current"] == "SUCCESS"
    [listener] = await ended(api, "io.kestra.tests.trigger", "trigger-flow-listener", 1)
    assert listener["inputs"]["from-parent"].startswith("from parents: ")
    await ended(api, "io.kestra.tests.trigger", "trigger-flow-listener-no-inputs", 1)


HOOKED = """
id: {flow_id}
namespace: {ns}
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: x
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: k
    conditions:
{conditions}
"""


async def test_webhook_conditions_of_every_type(
    api: httpx.AsyncClient, anonymous_api: httpx.AsyncClient, ns: str
) -> None:
    url = f"/api/v1/executions/webhook/{ns}/hooked/k"
    refusing = f"/api/v1/executions/webhook/{ns}/refusing/k"
    holding = """      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Expression
            expression: "{{ trigger.body.x == 'no' }}"
      - type: io.kestra.core.models.conditions.types.DateTimeBetweenCondition
        date: "2026-01-02T00:00:00Z"
        after: "2026-01-01T00:00:00Z"
"""
    await deploy(api, HOOKED.format(ns=ns, flow_id="hooked", conditions=holding))
    assert (await anonymous_api.post(url, json={"x": "yes"})).status_code == 200
    assert (await anonymous_api.post(url, json={"x": "no"})).status_code == 204
    failing = """      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
"""  # a webhook has no ending execution: the condition cannot hold
    await deploy(api, HOOKED.format(ns=ns, flow_id="refusing", conditions=failing))
    assert (await anonymous_api.post(refusing, json={"x": "yes"})).status_code == 204
