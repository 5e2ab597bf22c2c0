"""The LISTEN/NOTIFY bridge of the change feed and the executor's advisory lock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import psycopg
import pytest
from tests.conftest import libpq_url

from lanner.engine.feeds import ChangeFeed
from lanner.errors import ConfigError
from lanner.store.sqlalchemy.leadership import AdvisoryLock
from lanner.store.sqlalchemy.notifications import (
    MAX_PAYLOAD_BYTES,
    PostgresNotifier,
    decode_payload,
    encode_payloads,
    postgres_conninfo,
)

DEADLINE_S = 10.0


def test_payloads_batch_topics_within_the_size_limit() -> None:
    topics = [f"execution:{i:040d}" for i in range(1000)]
    payloads = encode_payloads("node-a", [*topics, topics[0]])
    assert len(payloads) > 1
    assert all(len(p.encode()) <= MAX_PAYLOAD_BYTES for p in payloads)
    decoded = [decode_payload(p) for p in payloads]
    assert {node for node, _ in decoded} == {"node-a"}
    received = [topic for _, batch in decoded for topic in batch]
    assert sorted(received) == sorted(topics)  # every topic once


def test_roles_other_than_local_need_postgres() -> None:
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        postgres_conninfo("sqlite:////tmp/lanner.db")


def test_feed_forwards_local_publishes_only() -> None:
    feed = ChangeFeed()
    forwarded: list[Sequence[str]] = []
    feed.publish("a")  # no bridge: a no-op
    feed.forward_to(forwarded.append)
    subscription = feed.subscribe("b")
    feed.publish("b", "c")
    feed.publish_local("d")
    assert forwarded == [("b", "c")]
    assert subscription._event.is_set()


async def _received(feed: ChangeFeed, topic: str) -> bool:
    with feed.subscribe(topic) as subscription:
        return await subscription.wait(DEADLINE_S)


@pytest.mark.postgres
async def test_topics_cross_processes_and_survive_a_lost_connection(
    postgres_database_url: str,
) -> None:
    feeds = [ChangeFeed(), ChangeFeed()]
    notifiers = [
        PostgresNotifier(postgres_database_url, lambda t, f=feed: f.publish_local(*t))
        for feed in feeds
    ]
    for feed, notifier in zip(feeds, notifiers, strict=True):
        await notifier.start()
        feed.forward_to(notifier.send)
    a, b = feeds
    try:
        with b.subscribe("execution:1") as on_b, a.subscribe("execution:1") as on_a:
            a.publish("execution:1", "logs:1")
            assert await on_b.wait(DEADLINE_S)
            assert on_a._event.is_set()  # locally at once
            on_a._event.clear()
            assert not await on_a.wait(0.5)  # its own notification is ignored

        with psycopg.connect(libpq_url(postgres_database_url), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

        # Both sides reconnect: keep publishing until a wake-up crosses again.
        async def crossed() -> None:
            with a.subscribe("kill:2") as on_a:
                while not await on_a.wait(0.2):
                    b.publish("kill:2")

        await asyncio.wait_for(crossed(), DEADLINE_S * 3)
    finally:
        for notifier in notifiers:
            await notifier.close()


@pytest.mark.postgres
async def test_one_holder_of_the_executor_lock_at_a_time(postgres_database_url: str) -> None:
    first = AdvisoryLock(postgres_database_url, key=42, retry_s=0.05, check_s=0.05)
    second = AdvisoryLock(postgres_database_url, key=42, retry_s=0.05, check_s=0.05)
    await asyncio.wait_for(first.acquire(), DEADLINE_S)
    waiting = asyncio.create_task(second.acquire())
    try:
        await asyncio.sleep(0.3)
        assert not waiting.done()  # a hot standby
        await first.release()
        await asyncio.wait_for(waiting, DEADLINE_S)  # takes over
        # The holder notices when its session is gone.
        with psycopg.connect(libpq_url(postgres_database_url), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        await asyncio.wait_for(second.wait_lost(), DEADLINE_S)
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await first.release()
        await second.release()


@pytest.mark.postgres
async def test_a_leader_whose_lock_session_was_cut_cannot_write(
    postgres_database_url: str,
) -> None:
    """Fencing: the old leader's writes fail once its lock session is gone, even while its
    store's own connections are fine; the new leader's go through."""
    from tests.conftest import empty_postgres
    from tests.store.factories import execution

    from lanner.errors import NotLeaderError
    from lanner.store import ExecutionStep, open_store

    empty_postgres(postgres_database_url, drop=False)
    store = open_store(postgres_database_url)
    await store.start()
    old = AdvisoryLock(postgres_database_url, key=43, retry_s=0.05, check_s=0.05)
    new = AdvisoryLock(postgres_database_url, key=43, retry_s=0.05, check_s=0.05)
    try:
        await store.create_execution(execution("e1"))
        step = [ExecutionStep("e1", execution=execution("e1"))]
        await asyncio.wait_for(old.acquire(), DEADLINE_S)
        stale = old.fence()
        await store.apply_steps(step, fence=stale)  # the leader writes
        with psycopg.connect(libpq_url(postgres_database_url), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (stale.holder_pid,))
        await asyncio.wait_for(new.acquire(), DEADLINE_S)

        with pytest.raises(NotLeaderError):
            await store.apply_steps(step, fence=stale)  # not noticed yet: fenced out
        await store.apply_steps(step, fence=new.fence())
        await asyncio.wait_for(old.wait_lost(), DEADLINE_S)
        with pytest.raises(NotLeaderError):
            old.fence()
    finally:
        await old.release()
        await new.release()
        await store.close()
