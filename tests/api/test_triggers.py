"""The triggers API in process, over SQLite and PostgreSQL; the backfill tests run the real
scheduler and engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from tests.api.executions_support import deploy

from lanner.api.context import Services
from lanner.engine.scheduler import Scheduler
from lanner.engine.service import Engine
from lanner.store import TriggerState

T = TypeVar("T")
TIMEOUT_S = 60.0

HOURLY = """\
id: hourly
namespace: {ns}
labels:
  team: data
inputs:
  - id: day
    type: STRING
    defaults: none
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.date }}}}"
triggers:
  - id: every-hour
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "@hourly"
    inputs:
      day: "{{{{ trigger.date }}}}"
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: k
"""


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll ``probe`` until it returns something, or fail after a generous timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while True:
        found = await probe()
        if found is not None:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def scheduler(services: Services) -> AsyncIterator[Scheduler]:
    engine = Engine(services.store, services.feed)
    running = Scheduler(
        services.store, services.submitter, services.feed, holder="test", flow_check_s=0.2
    )
    await engine.start()
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        await engine.stop()


async def seed(
    services: Services, ns: str, trigger_id: str = "every-hour", **kw: Any
) -> TriggerState:
    """A trigger's state row, as the scheduler would have written it."""
    now = datetime.now(UTC).replace(microsecond=0)
    state = TriggerState(
        "main",
        ns,
        "hourly",
        trigger_id,
        date=now,
        next_execution_date=now + timedelta(hours=1),
        **kw,
    )
    return await services.store.save_trigger(state, expected_revision=None)


def key(ns: str, trigger_id: str = "every-hour") -> dict[str, str]:
    return {"namespace": ns, "flowId": "hourly", "triggerId": trigger_id}


# --- reading -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("scheduler")
async def test_the_scheduler_creates_the_state_listed_and_searched(
    api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, HOURLY.format(ns=ns))

    async def listed() -> list[dict[str, Any]] | None:
        body = (await api.get(f"/api/v1/triggers/{ns}/hourly")).json()
        return body["results"] or None

    [trigger] = await eventually(listed, "the trigger's state")
    assert trigger["triggerId"] == "every-hour"
    assert trigger["disabled"] is False
    assert trigger["nextExecutionDate"].endswith(":00:00Z")
    found = (await api.get("/api/v1/triggers/search", params={"namespace": ns})).json()
    assert found["total"] == 1
    [item] = found["results"]
    assert item["abstractTrigger"]["cron"] == "@hourly"
    assert item["triggerContext"]["flowId"] == "hourly"
    tenant = (await api.get("/api/v1/main/triggers/search", params={"q": ns})).json()
    assert tenant["total"] == 1


async def test_search_refuses_a_bad_sort_and_page(api: httpx.AsyncClient) -> None:
    assert (
        await api.get("/api/v1/triggers/search", params={"sort": "nope:asc"})
    ).status_code == 422
    assert (await api.get("/api/v1/triggers/search", params={"page": 0})).status_code == 422


# --- update, enable and disable ----------------------------------------------------------------


async def test_put_disables_and_enables(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, HOURLY.format(ns=ns))
    await seed(services, ns)
    response = await api.put("/api/v1/triggers", json={**key(ns), "disabled": True})
    assert response.status_code == 200, response.text
    assert response.json()["disabled"] is True
    stored = await services.store.get_trigger("main", ns, "hourly", "every-hour")
    assert stored is not None
    assert stored.disabled
    response = await api.put("/api/v1/triggers", json={**key(ns), "disabled": False})
    assert response.json()["disabled"] is False


async def test_put_answers_404_for_an_unknown_flow_or_trigger(
    api: httpx.AsyncClient, ns: str
) -> None:
    response = await api.put("/api/v1/triggers", json=key(ns))
    assert response.status_code == 404
    assert "Flow of trigger every-hour not found" in response.json()["message"]
    await deploy(api, HOURLY.format(ns=ns))
    response = await api.put("/api/v1/triggers", json=key(ns, "nope"))
    assert response.status_code == 404
    assert "Flow hourly has no trigger nope" in response.json()["message"]


async def test_put_names_a_missing_field(api: httpx.AsyncClient, ns: str) -> None:
    response = await api.put("/api/v1/triggers", json={"namespace": ns, "flowId": "hourly"})
    assert response.status_code == 422
    assert "triggerId" in response.text
    response = await api.put(
        "/api/v1/triggers", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


async def test_set_disabled_by_triggers_and_by_query(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, HOURLY.format(ns=ns))
    await seed(services, ns)
    await seed(services, ns, "hook")
    body = {"triggers": [key(ns)], "disabled": True}
    response = await api.post("/api/v1/triggers/set-disabled/by-triggers", json=body)
    assert response.json() == {"count": 1}
    states = await services.store.list_triggers("main", ns)
    assert [(s.trigger_id, s.disabled) for s in states] == [("every-hour", True), ("hook", False)]
    response = await api.post("/api/v1/triggers/set-disabled/by-query", params={"namespace": ns})
    assert response.json() == {"count": 2}
    assert all(s.disabled for s in await services.store.list_triggers("main", ns))
    response = await api.post(
        "/api/v1/triggers/set-disabled/by-query", params={"namespace": ns, "disabled": "false"}
    )
    assert response.json() == {"count": 2}
    assert not any(s.disabled for s in await services.store.list_triggers("main", ns))


# --- unlock, restart, delete ---------------------------------------------------------------------


async def test_unlock_clears_the_execution_lock(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, HOURLY.format(ns=ns))
    await seed(services, ns)
    path = f"/api/v1/triggers/{ns}/hourly/every-hour/unlock"
    response = await api.post(path)
    assert response.status_code == 409
    assert "Trigger is not locked" in response.json()["message"]
    current = await services.store.get_trigger("main", ns, "hourly", "every-hour")
    assert current is not None
    await services.store.save_trigger(
        replace(current, execution_id="e1"), expected_revision=current.revision
    )
    response = await api.post(path)
    assert response.status_code == 200
    assert "executionId" not in response.json()
    assert (await api.post(f"/api/v1/triggers/{ns}/hourly/nope/unlock")).status_code == 404


async def test_unlock_by_triggers_and_by_query_count_the_locked_ones(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, HOURLY.format(ns=ns))
    await seed(services, ns, execution_id="e1")
    await seed(services, ns, "hook")
    response = await api.post(
        "/api/v1/triggers/unlock/by-triggers", json=[key(ns), key(ns, "hook")]
    )
    assert response.json() == {"count": 1}
    current = await services.store.get_trigger("main", ns, "hourly", "every-hour")
    assert current is not None
    assert current.execution_id is None
    await services.store.save_trigger(
        replace(current, execution_id="e2"), expected_revision=current.revision
    )
    response = await api.post("/api/v1/triggers/unlock/by-query", params={"namespace": ns})
    assert response.json() == {"count": 1}


async def test_restart_and_delete(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, HOURLY.format(ns=ns))
    await seed(services, ns)
    response = await api.post(f"/api/v1/triggers/{ns}/hourly/every-hour/restart")
    assert response.status_code == 200
    assert "date" not in response.json()
    response = await api.delete(f"/api/v1/triggers/{ns}/hourly/every-hour")
    assert response.status_code == 204
    assert await services.store.get_trigger("main", ns, "hourly", "every-hour") is None
    assert (await api.delete(f"/api/v1/triggers/{ns}/hourly/every-hour")).status_code == 404


# --- backfills -----------------------------------------------------------------------------------


async def test_backfill_pause_unpause_delete(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, HOURLY.format(ns=ns))
    seeded = await seed(services, ns)
    start = "2026-01-01T00:00:00Z"
    response = await api.put(
        "/api/v1/triggers",
        json={
            **key(ns),
            "backfill": {"start": start, "end": "2026-01-01T05:00:00Z", "labels": {"k": "v"}},
        },
    )
    assert response.status_code == 200, response.text
    backfill = response.json()["backfill"]
    assert backfill["start"] == start
    assert backfill["currentDate"] == start
    assert backfill["paused"] is False
    assert backfill["labels"] == [{"key": "k", "value": "v"}]
    assert backfill["previousNextExecutionDate"] == response.json()["nextExecutionDate"]
    paused = await api.put("/api/v1/triggers/backfill/pause", json=key(ns))
    assert paused.json()["backfill"]["paused"] is True
    resumed = await api.put("/api/v1/triggers/backfill/unpause", json=key(ns))
    assert resumed.json()["backfill"]["paused"] is False
    assert (
        await api.post("/api/v1/triggers/backfill/pause/by-triggers", json=[key(ns)])
    ).json() == {"count": 1}
    assert (
        await api.post("/api/v1/triggers/backfill/unpause/by-query", params={"namespace": ns})
    ).json() == {"count": 1}
    deleted = await api.post("/api/v1/triggers/backfill/delete", json=key(ns))
    assert "backfill" not in deleted.json()
    assert seeded.next_execution_date is not None
    assert deleted.json()["nextExecutionDate"] == seeded.next_execution_date.isoformat().replace(
        "+00:00", "Z"
    )
    again = await api.post("/api/v1/triggers/backfill/delete", json=key(ns))
    assert again.status_code == 400
    assert "No backfill found" in again.json()["message"]


async def test_a_backfill_needs_a_start_and_a_schedule(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, HOURLY.format(ns=ns))
    await seed(services, ns)
    await seed(services, ns, "hook")
    response = await api.put(
        "/api/v1/triggers", json={**key(ns), "backfill": {"end": "2026-01-01T00:00:00Z"}}
    )
    assert response.status_code == 422
    assert "backfill" in response.text
    response = await api.put(
        "/api/v1/triggers", json={**key(ns, "hook"), "backfill": {"start": "2026-01-01T00:00:00Z"}}
    )
    assert response.status_code == 400


async def test_a_backfill_over_ten_past_ticks_makes_ten_executions(
    api: httpx.AsyncClient, services: Services, ns: str, scheduler: Scheduler
) -> None:
    await deploy(api, HOURLY.format(ns=ns))

    async def state() -> TriggerState | None:
        return await services.store.get_trigger("main", ns, "hourly", "every-hour")

    await eventually(state, "the trigger's state")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = hour - timedelta(hours=10), hour - timedelta(minutes=30)
    response = await api.put(
        "/api/v1/triggers",
        json={
            **key(ns),
            "backfill": {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "labels": [{"key": "backfilled", "value": "yes"}],
            },
        },
    )
    assert response.status_code == 200, response.text

    async def done() -> list[dict[str, Any]] | None:
        current = await state()
        if current is None or current.backfill is not None or current.execution_id is not None:
            return None
        found = (
            await api.get("/api/v1/executions/search", params={"namespace": ns, "size": 50})
        ).json()
        ended = all(e["state"]["current"] == "SUCCESS" for e in found["results"])
        return found["results"] if ended else None

    executions = await eventually(done, "the backfill to end")
    dates = sorted(e["trigger"]["variables"]["date"] for e in executions)
    expected = [(start + timedelta(hours=h)).isoformat().replace("+00:00", "Z") for h in range(10)]
    assert dates == expected
    sample = executions[0]
    assert sample["trigger"]["id"] == "every-hour"
    assert sample["inputs"]["day"] == sample["trigger"]["variables"]["date"]
    labels = {label["key"]: label["value"] for label in sample["labels"]}
    assert labels["backfilled"] == "yes"
    assert labels["team"] == "data"
    final = await state()
    assert final is not None
    assert final.next_execution_date == hour + timedelta(hours=1)


# --- the scheduler notices flow changes ---------------------------------------------------------

EVERY_SECOND = """\
id: ticking
namespace: {ns}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.date }}}}"
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "{cron}"
    withSeconds: true
{extra}"""


async def test_deploy_update_and_delete_are_noticed(
    api: httpx.AsyncClient, services: Services, ns: str, scheduler: Scheduler
) -> None:
    await deploy(api, EVERY_SECOND.format(ns=ns, cron="* * * * * *", extra=""))

    async def executions() -> int | None:
        found = (await api.get("/api/v1/executions/search", params={"namespace": ns})).json()
        return found["total"] if found["total"] >= 2 else None

    await eventually(executions, "two ticks")
    response = await api.put(
        f"/api/v1/flows/{ns}/ticking",
        content=EVERY_SECOND.format(ns=ns, cron="0 0 0 1 1 *", extra=""),
        headers={"Content-Type": "application/x-yaml"},
    )
    assert response.status_code == 200, response.text

    async def yearly() -> TriggerState | None:
        state = await services.store.get_trigger("main", ns, "ticking", "tick")
        far = datetime.now(UTC) + timedelta(days=1)
        if (
            state is not None
            and state.next_execution_date is not None
            and state.next_execution_date > far
        ):
            return state
        return None

    await eventually(yearly, "the redefined schedule")
    assert (await api.delete(f"/api/v1/flows/{ns}/ticking")).status_code == 204

    async def gone() -> bool | None:
        return (
            True
            if await services.store.get_trigger("main", ns, "ticking", "tick") is None
            else None
        )

    await eventually(gone, "the deleted flow's trigger state to go")


async def test_a_false_condition_skips_ticks(
    api: httpx.AsyncClient, services: Services, ns: str, scheduler: Scheduler
) -> None:
    extra = '    conditions:\n      - type: io.kestra.plugin.core.condition.Expression\n        expression: "{{ 1 == 2 }}"\n'
    await deploy(api, EVERY_SECOND.format(ns=ns, cron="* * * * * *", extra=extra))

    async def first() -> TriggerState | None:
        return await services.store.get_trigger("main", ns, "ticking", "tick")

    created = await eventually(first, "the trigger's state")
    assert created.date is not None
    start = created.date

    async def skipped_two() -> TriggerState | None:
        state = await first()
        return (
            state
            if state is not None
            and state.date is not None
            and state.date >= start + timedelta(seconds=2)
            else None
        )

    await eventually(skipped_two, "two evaluated ticks")
    found = (await api.get("/api/v1/executions/search", params={"namespace": ns})).json()
    assert found["total"] == 0
