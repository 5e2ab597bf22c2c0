"""The store's one writer: a thread owning one connection, committing batches of operations.

Callers on the event loop :meth:`Writer.submit` a sync operation on a SQLAlchemy ``Connection``
and await its future. The thread takes everything queued (up to :data:`MAX_BATCH_CALLS`), runs
it in ONE transaction and commits, then settles every future (group commit: no thread hop or
commit per statement). When an operation fails, the batch is rolled back and replayed with a
SAVEPOINT per operation, so only the failing operations fail and the others still commit.
Operations must therefore only touch the database (they may run twice). Imports SQLAlchemy and
the store's own modules only.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TypeVar

from sqlalchemy import Connection, Engine

from lanner.errors import StoreUnavailableError
from lanner.store.sqlalchemy.calls import Call, Operation, Outcome, new_call, settle
from lanner.store.sqlalchemy.engines import unavailable

T = TypeVar("T")

MAX_BATCH_CALLS = 1000

logger = logging.getLogger(__name__)


class Writer:
    """Serializes every write of this process through one connection, in batches."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH_CALLS) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Call[object] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="lanner-store-writer", daemon=True)
        self._connection: Connection | None = None
        self._is_closed = False
        #: Committed transactions so far (for tests and metrics).
        self.batches_committed = 0

    @property
    def queued(self) -> int:
        """Calls waiting for the next batch (approximate; for tests and metrics)."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the writer thread (it connects on its first batch)."""
        self._thread.start()

    async def submit(self, operation: Operation[T]) -> T:
        """Run ``operation`` in the next batch; its result once that batch has committed.

        A cancelled caller's write may still commit.
        """
        if self._is_closed:
            raise StoreUnavailableError("the store is closed")
        call = new_call(operation)
        self._queue.put(call)  # type: ignore[arg-type]
        return await call.future

    def stop(self) -> None:
        """Flush what is queued, then stop the thread (blocking: call from a thread)."""
        if self._is_closed:
            return
        self._is_closed = True
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            is_stopping = False
            while not is_stopping:
                first = self._queue.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < self._max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        is_stopping = True
                        break
                    batch.append(item)
                settle(self._run_batch(batch))
        finally:
            if self._connection is not None:
                self._connection.close()
            self._fail_leftovers()

    def _run_batch(self, batch: list[Call[object]]) -> list[Outcome]:
        try:
            conn = self._connect()
            with conn.begin():
                values = [call.operation(conn) for call in batch]
        except Exception as exc:
            error = unavailable(exc)
            # A lost connection fails the whole batch: whether it committed is unknown, so
            # replaying could apply it twice. Callers see StoreUnavailableError.
            if (
                len(batch) == 1
                or self._connection is None
                or isinstance(error, StoreUnavailableError)
            ):
                return _all_failed(batch, error)
            return self._replay(self._connection, batch)
        self.batches_committed += 1
        return [Outcome(call, True, value) for call, value in zip(batch, values, strict=True)]

    def _replay(self, conn: Connection, batch: list[Call[object]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            with conn.begin():
                for call in batch:
                    try:
                        with conn.begin_nested():
                            value = call.operation(conn)
                    except Exception as exc:
                        outcomes.append(Outcome(call, False, error=unavailable(exc)))
                    else:
                        outcomes.append(Outcome(call, True, value))
        except Exception as exc:
            return _all_failed(batch, unavailable(exc))
        self.batches_committed += 1
        return outcomes

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def _fail_leftovers(self) -> None:
        leftovers: list[Call[object]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                leftovers.append(item)
        if leftovers:
            settle(_all_failed(leftovers, StoreUnavailableError("the store is closed")))


def _all_failed(batch: list[Call[object]], error: BaseException) -> list[Outcome]:
    return [Outcome(call, False, error=error) for call in batch]
