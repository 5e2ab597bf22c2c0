"""The log writer: batches, bounded delay, back-pressure, flush barrier and clean stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from lanner.domain.logs import LogEntry, LogLevel
from lanner.engine.feeds import ChangeFeed, logs_topic
from lanner.engine.logwriter import LogWriter

pytestmark = pytest.mark.asyncio


class FakeLogStore:
    """Records every ``add_logs`` call; can be slowed down or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[LogEntry]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures = 0

    async def add_logs(self, entries: Sequence[LogEntry]) -> None:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise OSError("database went away")
        self.batches.append(list(entries))

    @property
    def messages(self) -> list[str]:
        return [entry.message for batch in self.batches for entry in batch]


def line(message: str, execution_id: str = "e1") -> LogEntry:
    return LogEntry(
        tenant_id="main",
        namespace="company.team",
        flow_id="f",
        execution_id=execution_id,
        level=LogLevel.INFO,
        message=message,
        timestamp=datetime.now(UTC),
    )


async def started(store: FakeLogStore, feed: ChangeFeed, **kwargs: int | float) -> LogWriter:
    writer = LogWriter(store, feed, **kwargs)  # type: ignore[arg-type]
    writer.start()
    return writer


async def test_lines_are_committed_in_batches_in_order() -> None:
    store = FakeLogStore()
    writer = await started(store, ChangeFeed(), batch_lines=100, linger_s=0.05)

    writer.write(line(str(i)) for i in range(250))
    await writer.flush()

    assert store.messages == [str(i) for i in range(250)]
    assert [len(batch) for batch in store.batches] == [100, 100, 50]
    await writer.stop()


async def test_a_lone_line_is_committed_within_the_linger_delay() -> None:
    store = FakeLogStore()
    feed = ChangeFeed()
    writer = await started(store, feed, batch_lines=1000, linger_s=0.01)

    with feed.subscribe(logs_topic("e1")) as changes:
        writer.write([line("alone")])
        assert await changes.wait(2.0)  # published after the commit

    assert store.messages == ["alone"]
    await writer.stop()


async def test_publish_names_every_execution_of_the_batch() -> None:
    store = FakeLogStore()
    feed = ChangeFeed()
    writer = await started(store, feed, linger_s=0.05)
    with feed.subscribe(logs_topic("e1")) as one, feed.subscribe(logs_topic("e2")) as two:
        writer.write([line("a", "e1"), line("b", "e2")])
        assert await one.wait(2.0)
        assert await two.wait(2.0)
    await writer.stop()


async def test_producers_wait_for_room_when_the_buffer_is_full() -> None:
    store = FakeLogStore()
    store.gate.clear()  # the store is stuck
    writer = await started(store, ChangeFeed(), batch_lines=10, capacity=20, linger_s=0)

    writer.write(line(str(i)) for i in range(30))
    assert writer.is_congested
    waiting = asyncio.create_task(writer.wait_for_room())
    await asyncio.sleep(0.05)
    assert not waiting.done()

    store.gate.set()
    await asyncio.wait_for(waiting, 2.0)
    await writer.flush()
    assert store.messages == [str(i) for i in range(30)]
    await writer.stop()


async def test_a_failed_batch_is_retried_without_losing_lines() -> None:
    store = FakeLogStore()
    store.failures = 2
    writer = await started(store, ChangeFeed(), linger_s=0)

    writer.write([line("kept"), line("too")])
    await asyncio.wait_for(writer.flush(), 2.0)

    assert store.messages == ["kept", "too"]
    await writer.stop()


async def test_stop_commits_everything_buffered() -> None:
    store = FakeLogStore()
    writer = await started(store, ChangeFeed(), batch_lines=1000, linger_s=10.0)

    writer.write(line(str(i)) for i in range(5))
    await writer.stop()

    assert store.messages == [str(i) for i in range(5)]
    assert writer.pending_lines == 0


async def test_flush_only_waits_for_lines_written_before_it() -> None:
    store = FakeLogStore()
    writer = await started(store, ChangeFeed(), batch_lines=2, linger_s=0)

    writer.write([line("before")])
    flushed = asyncio.create_task(writer.flush())
    await asyncio.wait_for(flushed, 2.0)

    assert "before" in store.messages
    assert writer.committed_lines >= 1
    await writer.stop()
