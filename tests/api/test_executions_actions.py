"""Executions API actions without an engine: the events they queue and their error paths;
replay, labels, change-status; follow (SSE) driven by hand-made state changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.api.executions_support import create, deploy, log_flow, move

from lanner.api import execution_actions, execution_follow
from lanner.api.context import Services
from lanner.domain.states import StateType
from lanner.engine.feeds import execution_topic

pytestmark = pytest.mark.asyncio

PAUSE_FLOW = """\
id: approval
namespace: {ns}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: note
        type: STRING
        required: false
"""


@pytest.fixture(autouse=True)
def quick_acks(monkeypatch: pytest.MonkeyPatch) -> None:
    """No engine here: actions answering with the Execution should not wait long for one."""
    monkeypatch.setattr(execution_actions, "ACK_WAIT_S", 0.05)


async def events_of(services: Services, execution_id: str) -> list[tuple[str, dict[str, Any]]]:
    due = await services.store.due_events(datetime.now(UTC) + timedelta(seconds=1), 1000)
    return [(e.kind, dict(e.payload)) for e in due if e.execution_id == execution_id]


async def test_kill(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    response = await api.delete(f"/api/v1/executions/{execution_id}/kill")
    assert response.status_code == 202
    assert response.content == b""
    no_cascade = await api.delete(
        f"/api/v1/main/executions/{execution_id}/kill", params={"isOnKillCascade": "false"}
    )
    assert no_cascade.status_code == 202
    action = await api.post(f"/api/v1/executions/{execution_id}/actions/kill")
    assert action.status_code == 200
    assert action.json()["id"] == execution_id
    kills = [p for kind, p in await events_of(services, execution_id) if kind == "kill"]
    assert kills == [{"cascade": True}, {"cascade": False}, {"cascade": True}]
    assert (await api.delete("/api/v1/executions/nope/kill")).status_code == 404


async def test_kill_finished_execution(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    await move(services, execution_id, StateType.SUCCESS)
    assert (await api.delete(f"/api/v1/executions/{execution_id}/kill")).status_code == 202
    refused = await api.delete(
        f"/api/v1/executions/{execution_id}/kill", params={"isOnKillCascade": "false"}
    )
    assert refused.status_code == 409
    assert [k for k, _ in await events_of(services, execution_id) if k == "kill"] == []


async def test_restart_paths(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    running = await api.post(f"/api/v1/executions/{execution_id}/restart")
    assert running.status_code == 409
    assert "Illegal state" in running.json()["message"]
    _, runs = await move(
        services,
        execution_id,
        StateType.FAILED,
        {"first": StateType.SUCCESS, "second": StateType.FAILED},
    )
    restarted = await api.post(f"/api/v1/executions/{execution_id}/restart")
    assert restarted.status_code == 200
    assert restarted.json()["id"] == execution_id
    from_first = await api.post(
        f"/api/v1/executions/{execution_id}/restart", params={"taskRunId": runs[0].id}
    )
    assert from_first.status_code == 200
    action = await api.post(f"/api/v1/executions/{execution_id}/actions/restart")
    assert action.status_code == 200
    restarts = [p for k, p in await events_of(services, execution_id) if k == "restart"]
    assert restarts == [{"taskRunId": None}, {"taskRunId": runs[0].id}, {"taskRunId": None}]
    unknown_run = await api.post(
        f"/api/v1/executions/{execution_id}/restart", params={"taskRunId": "nope"}
    )
    assert unknown_run.status_code == 404
    assert (await api.post("/api/v1/executions/nope/restart")).status_code == 404


async def test_restart_without_failed_task_is_422(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    await move(services, execution_id, StateType.SUCCESS, {"first": StateType.SUCCESS})
    response = await api.post(f"/api/v1/executions/{execution_id}/restart")
    assert response.status_code == 422
    assert "No task found to restart execution from!" in response.json()["message"]


async def test_resume(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, PAUSE_FLOW.format(ns=ns))
    execution_id = (await create(api, ns, "approval"))["id"]
    not_paused = await api.post(f"/api/v1/executions/{execution_id}/resume")
    assert not_paused.status_code == 409
    assert "not paused" in not_paused.json()["message"]
    await move(services, execution_id, StateType.PAUSED, {"wait": StateType.PAUSED})
    bad = await api.post(f"/api/v1/executions/{execution_id}/resume", data={"note": "x"})
    assert bad.status_code == 422
    assert bad.json()["message"].startswith("Invalid entity: inputs.approved: missing")
    ok = await api.post(f"/api/v1/executions/{execution_id}/resume", data={"approved": "true"})
    assert ok.status_code == 204
    action = await api.post(
        f"/api/v1/main/executions/{execution_id}/actions/resume",
        data={"approved": "false", "note": "no"},
    )
    assert action.status_code == 200
    assert action.json()["id"] == execution_id
    resumes = [p for k, p in await events_of(services, execution_id) if k == "resume"]
    assert resumes == [
        {"inputs": {"approved": True, "note": None}},
        {"inputs": {"approved": False, "note": "no"}},
    ]
    assert (await api.post("/api/v1/executions/nope/resume")).status_code == 404


async def test_pause(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    assert (await api.post(f"/api/v1/executions/{execution_id}/pause")).status_code == 200
    action = await api.post(f"/api/v1/executions/{execution_id}/actions/pause")
    assert action.status_code == 200
    assert action.json()["id"] == execution_id
    assert [k for k, _ in await events_of(services, execution_id) if k == "pause"] == [
        "pause",
        "pause",
    ]
    await move(services, execution_id, StateType.SUCCESS)
    assert (await api.post(f"/api/v1/executions/{execution_id}/pause")).status_code == 409
    assert (await api.post("/api/v1/executions/nope/pause")).status_code == 404


async def test_force_task_run_state(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    _, runs = await move(services, execution_id, StateType.FAILED, {"first": StateType.FAILED})
    url = f"/api/v1/executions/{execution_id}/state"
    ok = await api.post(url, json={"taskRunId": runs[0].id, "state": "SUCCESS"})
    assert ok.status_code == 200
    assert ok.json()["id"] == execution_id
    assert ("state", {"taskRunId": runs[0].id, "state": "SUCCESS"}) in await events_of(
        services, execution_id
    )
    assert (await api.post(url, json={"taskRunId": runs[0].id, "state": "NOPE"})).status_code == 422
    assert (await api.post(url, json={"taskRunId": "nope", "state": "SUCCESS"})).status_code == 404


async def test_replay(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    source = await create(api, ns, params={"labels": "env:prod"})
    _, runs = await move(
        services,
        source["id"],
        StateType.FAILED,
        {"first": StateType.SUCCESS, "second": StateType.FAILED},
    )
    response = await api.post(f"/api/v1/executions/{source['id']}/replay")
    assert response.status_code == 200, response.text
    replay = response.json()
    assert replay["id"] != source["id"]
    assert replay["parentId"] == source["id"]
    assert replay["originalId"] == source["id"]
    assert replay["state"]["current"] == "CREATED"
    assert replay["metadata"]["attemptNumber"] == 2
    assert {"key": "env", "value": "prod"} in replay["labels"]
    assert "taskRunList" not in replay
    assert [k for k, _ in await events_of(services, replay["id"])] == ["created"]
    from_task = await api.post(
        f"/api/v1/executions/{source['id']}/actions/replay", params={"taskRunId": runs[1].id}
    )
    assert from_task.status_code == 200, from_task.text
    copy_id = from_task.json()["id"]
    copied = (await api.get(f"/api/v1/executions/{copy_id}")).json()
    assert [r["taskId"] for r in copied["taskRunList"]] == ["first", "second"]
    assert {r["id"] for r in copied["taskRunList"]}.isdisjoint({r.id for r in runs})
    (restart,) = [p for k, p in await events_of(services, copy_id) if k == "restart"]
    assert restart == {"taskRunId": copied["taskRunList"][1]["id"]}
    unknown = await api.post(
        f"/api/v1/executions/{source['id']}/replay", params={"taskRunId": "nope"}
    )
    assert unknown.status_code == 404
    assert (await api.post("/api/v1/executions/nope/replay")).status_code == 404


async def test_labels(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns, params={"labels": "a:1"}))["id"]
    url = f"/api/v1/executions/{execution_id}/labels"
    running = await api.post(url, json=[{"key": "b", "value": "2"}])
    assert running.status_code == 400
    await move(services, execution_id, StateType.SUCCESS)
    response = await api.post(url, json=[{"key": "a", "value": "9"}, {"key": "b", "value": "2"}])
    assert response.status_code == 200, response.text
    labels = response.json()["labels"]
    assert {"key": "a", "value": "9"} in labels
    assert {"key": "b", "value": "2"} in labels
    assert {"key": "system.correlationId", "value": execution_id} in labels
    again = (await api.get(f"/api/v1/executions/{execution_id}")).json()
    assert again["labels"] == labels
    system = await api.post(url, json=[{"key": "system.correlationId", "value": "x"}])
    assert system.status_code == 422
    assert (await api.post(url, json={"key": "a"})).status_code == 422
    assert (await api.post(url, content=b"{not json")).status_code == 422
    missing = await api.post("/api/v1/executions/nope/labels", json=[])
    assert missing.status_code == 404


async def test_change_status(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    url = f"/api/v1/executions/{execution_id}/change-status"
    assert (await api.post(url, params={"status": "SUCCESS"})).status_code == 422
    await move(services, execution_id, StateType.FAILED)
    assert (await api.post(url, params={"status": "RUNNING"})).status_code == 422
    assert (await api.post(url)).status_code == 400
    response = await api.post(url, params={"status": "SUCCESS"})
    assert response.status_code == 200
    state = response.json()["state"]
    assert state["current"] == "SUCCESS"
    assert [h["state"] for h in state["histories"]][-2:] == ["FAILED", "SUCCESS"]
    stored = (await api.get(f"/api/v1/executions/{execution_id}")).json()
    assert stored["state"]["current"] == "SUCCESS"


# --- follow -------------------------------------------------------------------------------------


def frames(text: str) -> list[tuple[str, str]]:
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((fields["id"], fields["data"]))
    return found


async def test_follow_finished_execution_sends_one_end(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    await move(services, execution_id, StateType.SUCCESS, {"first": StateType.SUCCESS})
    response = await api.get(f"/api/v1/executions/{execution_id}/follow")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    (only,) = frames(response.text)
    assert only[0] == "end"
    assert '"current":"SUCCESS"' in only[1]
    assert '"taskRunList"' in only[1]
    assert services.feed.subscriber_count(execution_topic(execution_id)) == 0


async def test_follow_streams_until_end(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]

    async def finish_when_followed() -> None:
        topic = execution_topic(execution_id)
        for _ in range(500):
            if services.feed.subscriber_count(topic):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        await move(services, execution_id, StateType.SUCCESS, {"first": StateType.SUCCESS})

    mover = asyncio.create_task(finish_when_followed())
    response = await api.get(f"/api/v1/main/executions/{execution_id}/follow")
    await mover
    got = frames(response.text)
    assert [event for event, _ in got] == ["start", "progress", "end"]
    assert got[0][1] == f'{{"id":"{execution_id}"}}'
    assert '"current":"CREATED"' in got[1][1]
    assert '"current":"SUCCESS"' in got[2][1]
    assert services.feed.subscriber_count() == 0


async def test_follow_unknown_is_404(api: httpx.AsyncClient, services: Services) -> None:
    response = await api.get("/api/v1/executions/nope/follow")
    assert response.status_code == 404
    assert services.feed.subscriber_count() == 0


async def test_follow_releases_its_subscription_on_disconnect(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    """Starlette closes the body iterator when the client goes away: the subscription goes."""
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    topic = execution_topic(execution_id)
    response = await execution_follow.follow(execution_id, services, "main")
    body = response.body_iterator
    assert isinstance(body, AsyncGenerator)
    first = await anext(body)
    second = await anext(body)
    assert first.startswith(b"id: start\n")
    assert second.startswith(b"id: progress\n")
    assert services.feed.subscriber_count(topic) == 1
    await body.aclose()
    assert services.feed.subscriber_count(topic) == 0


async def test_follow_wakes_on_every_change_but_sends_only_news(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    response = await execution_follow.follow(execution_id, services, "main")
    body = response.body_iterator
    assert isinstance(body, AsyncGenerator)
    await anext(body)
    await anext(body)
    # A wake-up without a change sends nothing; the next real change is sent once.
    services.feed.publish(execution_topic(execution_id))
    pending = asyncio.ensure_future(anext(body))
    await asyncio.sleep(0.1)
    assert not pending.done()
    await move(services, execution_id, StateType.FAILED)
    frame = await asyncio.wait_for(pending, 5)
    assert frame.startswith(b"id: end")
    assert b'"current":"FAILED"' in frame
    await body.aclose()
    assert services.feed.subscriber_count() == 0


# --- pause and forced states with the engine running ------------------------------------------

NAPPING = """\
id: napping
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.5S
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: after
"""


@pytest.fixture
async def engine(services: Services, monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[None]:
    from lanner.engine.service import Engine

    monkeypatch.setattr(execution_actions, "ACK_WAIT_S", 5.0)
    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield
    finally:
        await running.stop(grace_s=1.0)


async def _until(api: httpx.AsyncClient, execution_id: str, *states: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20.0
    while True:
        body: dict[str, Any] = (await api.get(f"/api/v1/executions/{execution_id}")).json()
        if body["state"]["current"] in states:
            return body
        assert loop.time() < deadline, f"still {body['state']['current']}"
        await asyncio.sleep(0.02)


@pytest.mark.usefixtures("engine")
async def test_pause_and_state_drive_a_running_execution(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, NAPPING.format(ns=ns))
    execution_id = (await create(api, ns, "napping"))["id"]
    await _until(api, execution_id, "RUNNING")
    paused = await api.post(f"/api/v1/executions/{execution_id}/actions/pause")
    assert paused.status_code == 200
    assert paused.json()["state"]["current"] == "PAUSED"
    again = await api.post(f"/api/v1/executions/{execution_id}/pause")
    assert again.status_code == 409
    resumed = await api.post(f"/api/v1/executions/{execution_id}/resume")
    assert resumed.status_code == 204
    failed = await _until(api, execution_id, "FAILED")
    boom = next(r for r in failed["taskRunList"] if r["taskId"] == "boom")
    flipped = await api.post(
        f"/api/v1/executions/{execution_id}/state",
        json={"taskRunId": boom["id"], "state": "SUCCESS"},
    )
    assert flipped.status_code == 200
    body = flipped.json()
    assert body["state"]["current"] in ("RUNNING", "SUCCESS")
    assert next(r for r in body["taskRunList"] if r["id"] == boom["id"])["state"]["current"] == (
        "SUCCESS"
    )
    done = await _until(api, execution_id, "SUCCESS")
    assert [r["taskId"] for r in done["taskRunList"]] == ["nap", "boom", "after"]
    not_terminal = await api.post(
        f"/api/v1/executions/{execution_id}/state",
        json={"taskRunId": boom["id"], "state": "RUNNING"},
    )
    assert not_terminal.status_code == 422
