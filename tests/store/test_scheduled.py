"""Contract: an execution created with a future ``schedule_date`` gets a delayed ``created``
event (it stays CREATED until then); a past or absent one is due at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.store.factories import execution

from lanner.store import Store


def now() -> datetime:
    return datetime.now(UTC)


async def test_future_schedule_date_delays_the_created_event(store: Store) -> None:
    scheduled = now() + timedelta(hours=1)

    await store.create_execution(execution("later", schedule_date=scheduled))

    assert await store.due_events(now(), 10) == []
    assert await store.next_event_time() == scheduled
    due = await store.due_events(scheduled, 10)
    assert [(e.execution_id, e.kind, e.available_at) for e in due] == [
        ("later", "created", scheduled)
    ]
    stored = await store.get_execution(due[0].tenant_id, "later")
    assert stored is not None
    assert stored.schedule_date == scheduled


async def test_past_or_absent_schedule_date_is_due_now(store: Store) -> None:
    await store.create_execution(execution("past", schedule_date=now() - timedelta(days=1)))
    await store.create_execution(execution("unscheduled"))

    due = await store.due_events(now() + timedelta(seconds=1), 10)

    assert [(e.execution_id, e.kind) for e in due] == [
        ("past", "created"),
        ("unscheduled", "created"),
    ]
