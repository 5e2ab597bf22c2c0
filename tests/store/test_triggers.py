"""The trigger state and lease contract, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lanner.domain.labels import Label
from lanner.errors import ConcurrentUpdateError, IllegalArgumentError
from lanner.store import Backfill, NewFlowRevision, TriggerQuery, TriggerState
from lanner.store.sqlalchemy.store import SqlStore

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def db(database_url: str, clock: Clock) -> AsyncIterator[SqlStore]:
    store = SqlStore(database_url, clock=clock)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


def state(
    namespace: str = "company.team", flow_id: str = "f", trigger_id: str = "t", **kw: object
) -> TriggerState:
    return TriggerState("main", namespace, flow_id, trigger_id, **kw)  # type: ignore[arg-type]


async def test_a_state_round_trips_with_its_backfill(db: SqlStore) -> None:
    backfill = Backfill(
        start=START - timedelta(days=1),
        end=START,
        current_date=START - timedelta(hours=3),
        created=START,
        paused=True,
        inputs={"x": 1},
        labels=(Label("k", "v"),),
        previous_next_execution_date=START + timedelta(hours=1),
    )
    written = state(
        date=START,
        next_execution_date=START + timedelta(minutes=1),
        execution_id="abc",
        disabled=True,
        backfill=backfill,
        stop_after=("FAILED",),
        flow_revision=3,
    )
    saved = await db.save_trigger(written, expected_revision=None)
    assert saved.revision == 1
    assert saved.updated == START
    read = await db.get_trigger("main", "company.team", "f", "t")
    assert read == saved
    assert read is not None
    assert read.backfill == backfill


async def test_writes_are_compare_and_set(db: SqlStore) -> None:
    first = await db.save_trigger(state(), expected_revision=None)
    with pytest.raises(ConcurrentUpdateError):
        await db.save_trigger(state(), expected_revision=None)
    second = await db.save_trigger(replace(first, disabled=True), expected_revision=1)
    assert second.revision == 2
    with pytest.raises(ConcurrentUpdateError):
        await db.save_trigger(replace(first, disabled=False), expected_revision=1)
    read = await db.get_trigger("main", "company.team", "f", "t")
    assert read is not None
    assert read.disabled


async def test_list_search_and_delete(db: SqlStore) -> None:
    for namespace, flow_id in [("a", "one"), ("a.b", "two"), ("c", "three")]:
        await db.save_trigger(state(namespace, flow_id), expected_revision=None)
    await db.save_trigger(TriggerState("other", "a", "one", "t"), expected_revision=None)
    assert [s.flow_id for s in await db.list_triggers()] == ["one", "two", "three", "one"]
    assert [s.flow_id for s in await db.list_triggers("main", "a")] == ["one"]
    page = await db.search_triggers(TriggerQuery(namespace="a", size=1))
    assert page.total == 2
    assert [s.flow_id for s in page.results] == ["one"]
    page = await db.search_triggers(TriggerQuery(q="THR"))
    assert [s.flow_id for s in page.results] == ["three"]
    page = await db.search_triggers(TriggerQuery(sort=[("flowId", True)]))
    assert [s.flow_id for s in page.results] == ["two", "three", "one"]
    with pytest.raises(IllegalArgumentError):
        await db.search_triggers(TriggerQuery(sort=[("nope", False)]))
    assert await db.delete_trigger("main", "c", "three", "t")
    assert not await db.delete_trigger("main", "c", "three", "t")
    assert await db.get_trigger("main", "c", "three", "t") is None


def _flow(
    namespace: str, flow_id: str, trigger_type: str | None, *, deleted: bool = False
) -> NewFlowRevision:
    source = f"id: {flow_id}\nnamespace: {namespace}\ntasks: []\n"
    if trigger_type:
        source += f"triggers:\n  - id: t\n    type: {trigger_type}\n"
    return NewFlowRevision("main", namespace, flow_id, source, {"id": flow_id}, deleted=deleted)


async def test_scheduled_flows_and_the_flows_fingerprint(db: SqlStore, clock: Clock) -> None:
    assert await db.flows_version() == (0, None)
    await db.add_flow_revision(
        _flow("n", "sched", "io.kestra.plugin.core.trigger.Schedule"), expected_revision=None
    )
    await db.add_flow_revision(
        _flow("n", "dates", "io.kestra.plugin.core.trigger.ScheduleOnDates"), expected_revision=None
    )
    await db.add_flow_revision(
        _flow("n", "legacy", "io.kestra.core.models.triggers.types.Schedule"),
        expected_revision=None,
    )
    await db.add_flow_revision(
        _flow("n", "hook", "io.kestra.plugin.core.trigger.Webhook"), expected_revision=None
    )
    await db.add_flow_revision(_flow("n", "plain", None), expected_revision=None)
    assert [f.id for f in await db.list_scheduled_flows()] == ["dates", "legacy", "sched"]
    before = await db.flows_version()
    assert before[0] == 5
    clock.now = START + timedelta(seconds=5)
    await db.add_flow_revision(
        _flow("n", "sched", "io.kestra.plugin.core.trigger.Schedule", deleted=True),
        expected_revision=1,
    )
    after = await db.flows_version()
    assert after != before
    assert after[1] == START + timedelta(seconds=5)
    assert [f.id for f in await db.list_scheduled_flows()] == ["dates", "legacy"]


async def test_a_lease_has_one_holder_until_it_expires(db: SqlStore, clock: Clock) -> None:
    ttl = timedelta(seconds=10)
    assert await db.acquire_lease("scheduler", "a", ttl)
    assert not await db.acquire_lease("scheduler", "b", ttl)
    clock.now = START + timedelta(seconds=5)
    assert await db.acquire_lease("scheduler", "a", ttl)  # renewed until 12:00:15
    clock.now = START + timedelta(seconds=12)
    assert not await db.acquire_lease("scheduler", "b", ttl)
    clock.now = START + timedelta(seconds=15)
    assert await db.acquire_lease("scheduler", "b", ttl)  # expired: taken over
    assert not await db.acquire_lease("scheduler", "a", ttl)
    await db.release_lease("scheduler", "a")  # not a's: nothing happens
    assert not await db.acquire_lease("scheduler", "a", ttl)
    await db.release_lease("scheduler", "b")
    assert await db.acquire_lease("scheduler", "a", ttl)
