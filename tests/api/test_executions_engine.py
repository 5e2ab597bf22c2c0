"""Executions API with the real engine running: wait=true, follow to the end, restart of a
failed run, pause/resume, kill — on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.api.executions_support import create, deploy

from lanner.api.context import Services

pytestmark = pytest.mark.asyncio

DEADLINE_S = 20.0

TWO_TASKS = """\
id: two
namespace: {ns}
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{{{ inputs.who }}}}"
  - id: bye
    type: io.kestra.plugin.core.debug.Return
    format: "bye"
"""

FAILING = """\
id: failing
namespace: {ns}
tasks:
  - id: ok
    type: io.kestra.plugin.core.debug.Return
    format: fine
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: boom
"""

PAUSING = """\
id: pausing
namespace: {ns}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "approved={{{{ outputs.wait.onResume.approved }}}}"
"""

SLEEPING = """\
id: sleeping
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"""


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Any]:
    """The real engine over the test's store and feed."""
    try:
        from lanner.engine import Engine  # type: ignore[attr-defined]
    except ImportError:
        pytest.skip("engine not wired yet")
    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def poll(
    api: httpx.AsyncClient, execution_id: str, is_reached: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The execution once ``is_reached`` holds (fails after DEADLINE_S)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        body: dict[str, Any] = (await api.get(f"/api/v1/executions/{execution_id}")).json()
        if is_reached(body):
            return body
        assert loop.time() < deadline, f"execution stuck in {body['state']['current']}"
        await asyncio.sleep(0.02)


def in_state(*states: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body["state"]["current"] in states


async def within(awaitable: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(awaitable, DEADLINE_S)


@pytest.mark.usefixtures("engine")
async def test_wait_returns_the_final_execution(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, TWO_TASKS.format(ns=ns))
    body = await within(create(api, ns, "two", params={"wait": "true"}, data={"who": "ada"}))
    assert body["state"]["current"] == "SUCCESS"
    assert body["state"]["duration"].startswith("PT")
    assert body["url"].endswith(f"/executions/{ns}/two/{body['id']}")
    runs = body["taskRunList"]
    assert [r["taskId"] for r in runs] == ["hello", "bye"]
    assert runs[0]["outputs"] == {"value": "hello ada"}
    assert all(r["state"]["current"] == "SUCCESS" for r in runs)
    outputs = await api.get(f"/api/v1/executions/{body['id']}/taskruns/{runs[0]['id']}/outputs")
    assert outputs.json() == {"value": "hello ada"}


@pytest.mark.usefixtures("engine")
async def test_wait_returns_failed_execution(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FAILING.format(ns=ns))
    body = await within(create(api, ns, "failing", params={"wait": "true"}))
    assert body["state"]["current"] == "FAILED"
    assert [r["state"]["current"] for r in body["taskRunList"]] == ["SUCCESS", "FAILED"]


@pytest.mark.usefixtures("engine")
async def test_follow_reaches_end(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, TWO_TASKS.format(ns=ns))
    execution_id = (await create(api, ns, "two"))["id"]
    events: list[str] = []
    data: list[str] = []

    async def read() -> None:
        async with api.stream("GET", f"/api/v1/executions/{execution_id}/follow") as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    events.append(line[4:])
                elif line.startswith("data: "):
                    data.append(line[6:])

    await within(read())
    last = data[-1]
    assert events[-1] == "end"
    assert events.count("end") == 1
    assert '"current":"SUCCESS"' in last


@pytest.mark.usefixtures("engine")
async def test_restart_failed_execution_keeps_its_id(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FAILING.format(ns=ns))
    failed = await within(create(api, ns, "failing", params={"wait": "true"}))
    ok_run, boom_run = failed["taskRunList"]
    response = await api.post(f"/api/v1/executions/{failed['id']}/restart")
    assert response.status_code == 200
    assert response.json()["id"] == failed["id"]
    again = await poll(
        api, failed["id"], lambda b: b["metadata"]["attemptNumber"] == 2 and in_state("FAILED")(b)
    )
    assert "RESTARTED" in [h["state"] for h in again["state"]["histories"]]
    runs = {r["taskId"]: r for r in again["taskRunList"]}
    assert runs["ok"]["id"] == ok_run["id"]
    assert runs["ok"]["outputs"] == ok_run["outputs"]
    assert runs["boom"]["id"] == boom_run["id"]
    # From a task run: it and every run after it rerun.
    from_first = await api.post(
        f"/api/v1/executions/{failed['id']}/restart", params={"taskRunId": ok_run["id"]}
    )
    assert from_first.status_code == 200
    third = await poll(
        api, failed["id"], lambda b: b["metadata"]["attemptNumber"] == 3 and in_state("FAILED")(b)
    )
    assert [r["state"]["current"] for r in third["taskRunList"]] == ["SUCCESS", "FAILED"]


@pytest.mark.usefixtures("engine")
async def test_pause_then_resume(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, PAUSING.format(ns=ns))
    execution_id = (await create(api, ns, "pausing"))["id"]
    await poll(api, execution_id, in_state("PAUSED"))
    response = await api.post(
        f"/api/v1/executions/{execution_id}/resume", data={"approved": "true"}
    )
    assert response.status_code == 204
    done = await poll(api, execution_id, in_state("SUCCESS", "FAILED", "WARNING"))
    assert done["state"]["current"] == "SUCCESS"
    after = next(r for r in done["taskRunList"] if r["taskId"] == "after")
    assert after["outputs"] == {"value": "approved=true"}
    again = await api.post(f"/api/v1/executions/{execution_id}/resume")
    assert again.status_code == 409


@pytest.mark.usefixtures("engine")
async def test_kill_running_execution(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, SLEEPING.format(ns=ns))
    execution_id = (await create(api, ns, "sleeping"))["id"]
    await poll(api, execution_id, in_state("RUNNING"))
    assert (await api.delete(f"/api/v1/executions/{execution_id}/kill")).status_code == 202
    killed = await poll(api, execution_id, in_state("KILLED"))
    assert "KILLING" in [h["state"] for h in killed["state"]["histories"]]


@pytest.mark.usefixtures("engine")
async def test_scheduled_execution_waits_in_created_until_its_date(
    api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, TWO_TASKS.format(ns=ns))
    scheduled = datetime.now(UTC) + timedelta(seconds=1.5)

    created = await create(api, ns, "two", params={"scheduleDate": scheduled.isoformat()})

    assert created["state"]["current"] == "CREATED"
    stored = (await api.get(f"/api/v1/executions/{created['id']}")).json()
    assert stored["state"]["current"] == "CREATED"
    assert not stored.get("taskRunList")
    done = await poll(api, created["id"], in_state("SUCCESS", "FAILED"))
    assert done["state"]["current"] == "SUCCESS"
    assert [r["taskId"] for r in done["taskRunList"]] == ["hello", "bye"]
    histories = done["state"]["histories"]
    assert [h["state"] for h in histories] == ["CREATED", "RUNNING", "SUCCESS"]
    assert datetime.fromisoformat(histories[1]["date"]) >= scheduled


@pytest.mark.usefixtures("engine")
async def test_past_schedule_date_starts_at_once(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, TWO_TASKS.format(ns=ns))
    past = datetime.now(UTC) - timedelta(days=1)

    created = await create(api, ns, "two", params={"scheduleDate": past.isoformat()})

    done = await poll(api, created["id"], in_state("SUCCESS", "FAILED"))
    assert done["state"]["current"] == "SUCCESS"


async def test_wait_answered_from_the_loop_is_what_a_read_gives(
    services: Services, api: httpx.AsyncClient, ns: str
) -> None:
    """Sharing the API's submitter, the engine inserts new executions with their first step and
    leaves their end for the waiter: that answer is the stored execution, field for field."""
    from lanner.engine import Engine  # type: ignore[attr-defined]

    running = Engine(services.store, services.feed, submitter=services.submitter)
    await running.start()
    try:
        await deploy(api, TWO_TASKS.format(ns=ns))
        body = await within(create(api, ns, "two", params={"wait": "true"}, data={"who": "ada"}))
        assert running.loop.executions_admitted == 1
        read = (await api.get(f"/api/v1/executions/{body['id']}")).json()
        assert body["state"]["current"] == "SUCCESS"
        assert {**body, "url": None} == {**read, "url": None}
        assert services.feed.ends.take(body["id"]) is None  # taken by its waiter
    finally:
        await running.stop()
