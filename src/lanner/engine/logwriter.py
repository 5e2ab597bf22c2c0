"""The log writer: task and engine log lines go to the store in batches, off the tasks' path.

Loggers hand lines to :meth:`LogWriter.write` (never blocks, never drops); one writer task
commits them in batches — one ``add_logs`` transaction per batch of up to ``batch_lines``
lines, started at most ``linger_s`` after the first line of the batch arrived (earlier when a
batch fills up), so a task writing 100,000 lines costs about a hundred transactions and a
follower sees each line within ``linger_s`` + one commit. After each committed batch the
``logs:<executionId>`` topics are published, which wakes the followers.

Back-pressure: the buffer holds ``capacity`` lines; a producer that can wait (the ``Log`` task,
a script's output reader) awaits :meth:`wait_for_room` when it is full, so a burst cannot grow
memory without bound while the store is slow. Lines written without waiting (engine events,
error lines) are always accepted.

Durability (the crash bound): a line is durable once its batch committed. A clean stop
(:meth:`stop`) commits everything buffered. A crash loses only the lines not yet committed —
at most the buffer (``capacity`` lines), in time at most ``linger_s`` plus one commit (about
50 ms) of output before the crash. :meth:`flush` waits until every line written before it is
committed: the worker calls it before reporting a task's result, so a task seen as ended has
all its lines stored. Imports the domain, the store protocols and this package.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from operator import attrgetter

from lanner.domain.logs import LogEntry
from lanner.engine.feeds import ChangeFeed, logs_topic
from lanner.engine.resilience import Backoff, StoreLostError, watch
from lanner.store import LogStore
from lanner.telemetry import watch_log_writer

log = logging.getLogger("lanner.logs")

LOG_BATCH_LINES = 5_000
LOG_LINGER_S = 0.005
LOG_BUFFER_LINES = 20_000
STOP_FLUSH_TIMEOUT_S = 30.0

_EXECUTION_ID = attrgetter("execution_id")


class LogWriter:
    """Batches log lines into store transactions; one instance per engine."""

    def __init__(
        self,
        store: LogStore,
        feed: ChangeFeed,
        *,
        batch_lines: int = LOG_BATCH_LINES,
        linger_s: float = LOG_LINGER_S,
        capacity: int = LOG_BUFFER_LINES,
    ) -> None:
        self._store = store
        self._feed = feed
        self._batch_lines = batch_lines
        self._linger_s = linger_s
        self._capacity = max(capacity, batch_lines)
        self._buffer: list[LogEntry] = []
        self._written = 0
        self._committed = 0
        self.batches = 0
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._is_stopping = False

    @property
    def committed_lines(self) -> int:
        return self._committed

    @property
    def pending_lines(self) -> int:
        return len(self._buffer)

    @property
    def is_congested(self) -> bool:
        """Whether producers that can wait should await :meth:`wait_for_room`."""
        return len(self._buffer) >= self._capacity

    def start(self) -> None:
        watch_log_writer(self)  # /metrics: lanner_log_backlog_lines
        if self._task is None:
            self._is_stopping = False
            self._task = watch(asyncio.create_task(self._run(), name="lanner-log-writer"))

    async def stop(self) -> None:
        """Commit every buffered line, then stop (the clean-shutdown path)."""
        if self._task is None:
            return
        self._is_stopping = True
        self._wake.set()
        self._full.set()
        try:
            async with asyncio.timeout(STOP_FLUSH_TIMEOUT_S):
                await self.flush()
        except TimeoutError:
            log.error("log writer stopped with %d lines not stored", len(self._buffer))
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    def write(self, entries: Iterable[LogEntry]) -> None:
        """Queue ``entries`` (in order) for the next batch; never blocks, never drops."""
        before = len(self._buffer)
        self._buffer.extend(entries)
        added = len(self._buffer) - before
        if not added:
            return
        self._written += added
        self._wake.set()
        if len(self._buffer) >= self._batch_lines:
            self._full.set()
        if len(self._buffer) >= self._capacity:
            self._room.clear()

    def write_one(self, entry: LogEntry) -> None:
        """:meth:`write` for one line (a task's logger, line by line)."""
        buffer = self._buffer
        buffer.append(entry)
        self._written += 1
        size = len(buffer)
        if size == 1:
            self._wake.set()
        if size >= self._batch_lines:
            self._full.set()
            if size >= self._capacity:
                self._room.clear()

    async def wait_for_room(self) -> None:
        """Return once the buffer is below its capacity (back-pressure for producers)."""
        while len(self._buffer) >= self._capacity:
            self._room.clear()
            await self._room.wait()

    async def flush(self) -> None:
        """Wait until every line written before this call is committed."""
        target = self._written
        while self._committed < target:
            if self._task is None:
                raise RuntimeError("log writer is not running")
            self._full.set()  # someone waits: do not linger
            progress = self._progress
            await progress.wait()

    async def _run(self) -> None:
        backoff = Backoff("log writer")
        while True:
            await self._wake.wait()
            if not self._buffer:
                self._wake.clear()
                continue
            if len(self._buffer) < self._batch_lines and not self._is_stopping:
                # asyncio.timeout, not wait_for: a stop's cancellation is never swallowed.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._linger_s):
                        await self._full.wait()
            self._full.clear()
            batch = self._buffer[: self._batch_lines]
            del self._buffer[: len(batch)]
            try:
                await self._store.add_logs(batch)
            except (asyncio.CancelledError, StoreLostError):
                self._buffer[:0] = batch
                raise
            except Exception as error:
                self._buffer[:0] = batch
                await backoff.pause(error)
                continue
            backoff.succeeded()
            self._committed += len(batch)
            self.batches += 1
            if len(self._buffer) < self._capacity:
                self._room.set()
            if len(self._buffer) >= self._batch_lines:
                self._full.set()
            progress, self._progress = self._progress, asyncio.Event()
            progress.set()
            executions = set(map(_EXECUTION_ID, batch))
            executions.discard(None)
            self._feed.publish(*map(logs_topic, executions))
