"""Contract: start/close, persistence across restarts, the batching writer."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection

from lanner.errors import ConcurrentUpdateError, StoreUnavailableError
from lanner.store import DEFAULT_TENANT, ApiToken, FlowQuery, NewFlowRevision, Store, open_store
from lanner.store.sqlalchemy.store import SqlStore

NewFlow = Callable[..., NewFlowRevision]
DEADLINE_S = 30.0


async def wait_until(condition: Callable[[], bool], *, timeout_s: float = DEADLINE_S) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.001)


async def test_data_survives_a_restart(store: Store, database_url: str, new_flow: NewFlow) -> None:
    await store.add_flow_revision(new_flow(labels={"k": "v"}), expected_revision=None)
    await store.add_flow_revision(new_flow(message="two"), expected_revision=1)
    await store.add_token(
        ApiToken(id="t1", name="ci", token_hash="a" * 64, created=datetime.now(UTC))
    )
    await store.close()

    reopened = open_store(database_url)
    await reopened.start()
    try:
        latest = await reopened.get_flow(DEFAULT_TENANT, "company.team", "hello")
        revisions = await reopened.list_flow_revisions(DEFAULT_TENANT, "company.team", "hello")
        tokens = await reopened.list_tokens()
        # The CAS carries on from the persisted revision.
        third = await reopened.add_flow_revision(new_flow(message="3"), expected_revision=2)
    finally:
        await reopened.close()

    assert latest is not None
    assert latest.document["tasks"][0]["message"] == "two"
    assert [r.revision for r in revisions] == [1, 2]
    assert [t.name for t in tokens] == ["ci"]
    assert third.revision == 3


async def test_many_concurrent_writes_all_resolve(store: Store, new_flow: NewFlow) -> None:
    count = 300

    created = await asyncio.gather(
        *(
            store.add_flow_revision(
                new_flow("load", f"flow{i:03d}", message=f"m{i}"), expected_revision=None
            )
            for i in range(count)
        )
    )

    # Each caller gets its own result back, whatever batch carried it.
    assert [(f.id, f.revision) for f in created] == [(f"flow{i:03d}", 1) for i in range(count)]
    page = await store.search_flows(FlowQuery(namespace="load", size=1000))
    assert page.total == count
    assert {f.id: f.document["tasks"][0]["message"] for f in page.results} == {
        f"flow{i:03d}": f"m{i}" for i in range(count)
    }


async def test_a_queued_batch_commits_in_one_transaction_despite_a_failure(
    store: Store, new_flow: NewFlow
) -> None:
    assert isinstance(store, SqlStore)
    writer = store.writer
    await store.add_flow_revision(new_flow("batch", "taken"), expected_revision=None)
    entered, release = threading.Event(), threading.Event()

    def hold_the_writer(_conn: Connection) -> str:
        entered.set()
        release.wait(DEADLINE_S)
        return "held"

    held = asyncio.ensure_future(writer.submit(hold_the_writer))
    await wait_until(entered.is_set)
    before = writer.batches_committed
    writes = [
        asyncio.ensure_future(
            store.add_flow_revision(new_flow("batch", f"f{i}"), expected_revision=None)
        )
        for i in range(20)
    ]
    conflicting = asyncio.ensure_future(
        store.add_flow_revision(new_flow("batch", "taken"), expected_revision=None)
    )
    await wait_until(lambda: writer.queued == 21)
    release.set()

    assert await held == "held"
    results = await asyncio.gather(*writes)
    with pytest.raises(ConcurrentUpdateError):
        await conflicting
    # The held call's batch, then ONE batch for the 21 queued calls (replayed with savepoints
    # once the conflict showed up: the failed first attempt committed nothing).
    assert writer.batches_committed == before + 2
    assert [f.revision for f in results] == [1] * 20
    assert len(await store.list_flows(DEFAULT_TENANT, "batch")) == 21


async def test_an_unexpected_error_fails_only_its_own_call(store: Store, new_flow: NewFlow) -> None:
    assert isinstance(store, SqlStore)

    def broken(_conn: Connection) -> None:
        raise RuntimeError("bug in an operation")

    outcomes = await asyncio.gather(
        store.add_flow_revision(new_flow("ns", "a"), expected_revision=None),
        store.writer.submit(broken),
        store.add_flow_revision(new_flow("ns", "b"), expected_revision=None),
        return_exceptions=True,
    )

    assert isinstance(outcomes[1], RuntimeError)
    assert [f.id for f in await store.list_flows(DEFAULT_TENANT, "ns")] == ["a", "b"]


async def test_a_closed_store_refuses_calls(store: Store) -> None:
    await store.close()

    with pytest.raises(StoreUnavailableError):
        await store.get_flow(DEFAULT_TENANT, "ns", "id")
    with pytest.raises(StoreUnavailableError):
        await store.revoke_token("ci")


async def test_close_flushes_queued_writes(database_url: str, new_flow: NewFlow) -> None:
    store = SqlStore(database_url)
    await store.start()
    entered, release = threading.Event(), threading.Event()

    def hold_the_writer(_conn: Connection) -> None:
        entered.set()
        release.wait(DEADLINE_S)

    writer = store.writer
    held = asyncio.ensure_future(writer.submit(hold_the_writer))
    await wait_until(entered.is_set)
    pending = [
        asyncio.ensure_future(
            store.add_flow_revision(new_flow("flush", f"f{i}"), expected_revision=None)
        )
        for i in range(10)
    ]
    await wait_until(lambda: writer.queued == 10)
    closing = asyncio.ensure_future(store.close())
    release.set()
    await closing
    await held
    flushed = await asyncio.gather(*pending)

    assert [f.revision for f in flushed] == [1] * 10
    reopened = open_store(database_url)
    await reopened.start()
    try:
        assert len(await reopened.list_flows(DEFAULT_TENANT, "flush")) == 10
    finally:
        await reopened.close()


async def test_start_twice_and_close_twice_are_harmless(database_url: str) -> None:
    store = open_store(database_url)
    await store.start()
    await store.start()
    assert await store.list_flows(DEFAULT_TENANT) == []
    await store.close()
    await store.close()
