"""Contract: JSON documents keep their key order, dates are timezone-aware UTC, both ways."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from tests.store.factories import T0, execution

from lanner.store import DEFAULT_TENANT, NewFlowRevision, Store

NewFlow = Callable[..., NewFlowRevision]


async def test_flow_documents_keep_their_key_order(store: Store, new_flow: NewFlow) -> None:
    flow = new_flow()
    document = {"tasks": flow.document["tasks"], "namespace": flow.namespace, "id": flow.id}
    await store.add_flow_revision(replace(flow, document=document), expected_revision=None)

    found = await store.get_flow(DEFAULT_TENANT, flow.namespace, flow.id)

    assert found is not None
    assert list(found.document) == ["tasks", "namespace", "id"]
    assert list(found.document["tasks"][0]) == ["id", "type", "message"]


async def test_other_offsets_come_back_as_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    await store.create_execution(
        replace(execution("e1"), schedule_date=T0.astimezone(paris), original_created_date=T0)
    )

    found = await store.get_execution(DEFAULT_TENANT, "e1")

    assert found is not None
    assert found.schedule_date == T0
    assert found.schedule_date is not None
    assert found.schedule_date.utcoffset() == timedelta(0)


async def test_naive_dates_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.create_execution(
            replace(execution("e1"), schedule_date=datetime(2026, 11, 28, 12, 0))
        )

    assert await store.get_execution(DEFAULT_TENANT, "e1") is None
