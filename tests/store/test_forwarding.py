"""``SqlStore``'s forwarded methods: one writer operation per write, reads off the writer, the
store's clock read once per call, before the operation (which the writer may replay)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from lanner.domain.kv import KVType, KVValue
from lanner.store import DEFAULT_TENANT, ApiToken, NewFlowRevision
from lanner.store.sqlalchemy.store import SqlStore

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
async def counted(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[SqlStore, dict[str, int]]]:
    counts = {"writes": 0, "reads": 0, "clock": 0}

    def clock() -> datetime:
        counts["clock"] += 1
        return NOW

    store = SqlStore(database_url, clock=clock)
    await store.start()
    submit, run = store.writer.submit, store.readers.run

    async def counted_submit(operation: Any) -> Any:
        counts["writes"] += 1
        return await submit(operation)

    async def counted_run(operation: Any) -> Any:
        counts["reads"] += 1
        return await run(operation)

    monkeypatch.setattr(store.writer, "submit", counted_submit)
    monkeypatch.setattr(store.readers, "run", counted_run)
    try:
        yield store, counts
    finally:
        await store.close()


async def test_each_forwarded_call_is_one_operation_on_the_right_thread(
    counted: tuple[SqlStore, dict[str, int]],
) -> None:
    store, counts = counted
    flow = NewFlowRevision(DEFAULT_TENANT, "a.b", "f", "id: f", {"id": "f"})
    stored = await store.add_flow_revision(flow, expected_revision=None)
    assert (counts["writes"], counts["reads"], counts["clock"]) == (1, 0, 1)
    assert stored.updated == NOW  # the clock's time reached the query

    got = await store.get_flow(DEFAULT_TENANT, "a.b", "f", revision=1)
    assert got is not None
    assert got.revision == 1
    assert await store.list_flows(DEFAULT_TENANT) == [got]  # the query's default namespace
    assert (counts["writes"], counts["reads"]) == (1, 2)

    entry = await store.put_kv(DEFAULT_TENANT, "a.b", "k", KVValue(KVType.STRING, "v"))
    assert entry.updated == NOW
    assert entry.revision == 1
    assert [e.key for e in await store.list_kv(DEFAULT_TENANT, "a.b")] == ["k"]
    assert (counts["writes"], counts["reads"], counts["clock"]) == (2, 3, 3)

    token = ApiToken(id="t1", name="ci", token_hash="h" * 64, created=NOW)
    assert await store.add_token(token) == token
    assert await store.revoke_token("ci") is True
    assert await store.requeue_jobs(NOW) == 0
    assert (counts["writes"], counts["reads"]) == (5, 3)


def test_forwarded_methods_keep_their_names() -> None:
    assert SqlStore.get_flow.__name__ == "get_flow"
    assert SqlStore.put_kv.__name__ == "put_kv"
