"""Replay and resume by ids, force-run: Kestra's shapes, with the real engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.api.executions_support import create, deploy

from lanner.api.context import Services
from lanner.engine import Engine

pytestmark = pytest.mark.asyncio

DEADLINE_S = 20.0

FLOWS = """\
id: pausing
namespace: {ns}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: done
"""


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def reach(api: httpx.AsyncClient, execution_id: str, state: str) -> dict[str, Any]:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            body: dict[str, Any] = (await api.get(f"/api/v1/executions/{execution_id}")).json()
            if body["state"]["current"] == state:
                return body
            await asyncio.sleep(0.05)


@pytest.mark.usefixtures("engine")
async def test_resume_replay_by_ids_and_force_run(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FLOWS.format(ns=ns))
    first, second = [(await create(api, ns, "pausing"))["id"] for _ in range(2)]
    await reach(api, first, "PAUSED")
    await reach(api, second, "PAUSED")

    refused = await api.post("/api/v1/executions/resume/by-ids", json=[first, "nope"])
    assert refused.status_code == 404, refused.text
    assert "execution not found: nope" in refused.json()["message"]
    assert (await api.get(f"/api/v1/executions/{first}")).json()["state"]["current"] == "PAUSED"

    resumed = await api.post("/api/v1/executions/resume/by-ids", json=[first])
    assert resumed.status_code == 200, resumed.text
    assert resumed.json() == {"count": 1}
    await reach(api, first, "SUCCESS")

    not_paused = await api.post("/api/v1/executions/resume/by-ids", json=[first])
    assert not_paused.status_code == 409
    assert "not paused" in not_paused.json()["message"]

    forced = await api.post(f"/api/v1/executions/{second}/force-run")
    assert forced.status_code == 200, forced.text
    assert forced.json()["id"] == second
    await reach(api, second, "SUCCESS")
    again = await api.post(f"/api/v1/executions/{second}/force-run")
    assert again.status_code == 409

    replayed = await api.post(
        "/api/v1/executions/replay/by-ids", json=[first, second], params={"latestRevision": "true"}
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {"count": 2}
    search = await api.get("/api/v1/executions/search", params={"namespace": ns, "size": 10})
    copies = [e for e in search.json()["results"] if e["id"] not in (first, second)]
    assert sorted(e["originalId"] for e in copies) == sorted([first, second])
    for copy in copies:
        assert {"key": "system.replay", "value": "true"} in copy["labels"]
    originals = [e for e in search.json()["results"] if e["id"] in (first, second)]
    assert all(label["key"] != "system.replay" for e in originals for label in e["labels"])


FAILING = """\
id: failing
namespace: {ns}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: boom
"""


@pytest.mark.usefixtures("engine")
async def test_restart_and_state_change_label_the_execution(
    api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, FAILING.format(ns=ns))
    execution_id = (await create(api, ns, "failing"))["id"]
    failed = await reach(api, execution_id, "FAILED")
    assert all(label["key"] != "system.restarted" for label in failed["labels"])
    restarted = await api.post(f"/api/v1/executions/{execution_id}/restart")
    assert restarted.status_code == 200, restarted.text
    async with asyncio.timeout(DEADLINE_S):
        while True:
            body = (await api.get(f"/api/v1/executions/{execution_id}")).json()
            if body["metadata"]["attemptNumber"] == 2 and body["state"]["current"] == "FAILED":
                break
            await asyncio.sleep(0.05)
    assert {"key": "system.restarted", "value": "true"} in body["labels"]
    assert [label["key"] for label in body["labels"]].count("system.restarted") == 1


LIMITED = """\
id: limited
namespace: {ns}
concurrency:
  limit: 1
  behavior: QUEUE
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


@pytest.mark.usefixtures("engine")
async def test_force_run_starts_scheduled_and_queued_executions(
    api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, LIMITED.format(ns=ns))
    later = "2099-01-01T00:00:00Z"
    scheduled = (await create(api, ns, "limited", params={"scheduleDate": later}))["id"]
    first = (await create(api, ns, "limited"))["id"]
    await reach(api, first, "PAUSED")
    queued = (await create(api, ns, "limited"))["id"]
    await reach(api, queued, "QUEUED")
    assert (await api.get(f"/api/v1/executions/{scheduled}")).json()["state"]["current"] == (
        "CREATED"
    )
    for execution_id in (scheduled, queued):
        forced = await api.post(f"/api/v1/executions/{execution_id}/force-run")
        assert forced.status_code == 200, forced.text
        await reach(api, execution_id, "PAUSED")  # it ran, up to its Pause task
