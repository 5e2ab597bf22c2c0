"""A small pool of reader threads, each with its own connection, for the store's queries.

SQLite in WAL mode lets these read beside the writer; each read runs in one short transaction
(one snapshot: a count and its page agree). On PostgreSQL the readers use REPEATABLE READ,
read-only transactions. Imports SQLAlchemy and the store's own modules only.
"""

from __future__ import annotations

import queue
import threading
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from lanner.errors import StoreUnavailableError
from lanner.store.sqlalchemy.calls import Call, Operation, Outcome, new_call, settle
from lanner.store.sqlalchemy.engines import SQLITE_BEGIN_OPTION, unavailable

T = TypeVar("T")


class ReaderPool:
    """``size`` threads taking read operations from one queue."""

    def __init__(self, engine: Engine, *, size: int) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[Call[object] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"lanner-store-reader-{i}", daemon=True)
            for i in range(size)
        ]
        self._is_closed = False

    def start(self) -> None:
        """Start the threads (each connects on its first read)."""
        for thread in self._threads:
            thread.start()

    async def run(self, operation: Operation[T]) -> T:
        """The result of ``operation`` run on a reader connection, in its own transaction."""
        if self._is_closed:
            raise StoreUnavailableError("the store is closed")
        call = new_call(operation)
        self._queue.put(call)  # type: ignore[arg-type]
        return await call.future

    def stop(self) -> None:
        """Finish queued reads, stop the threads (blocking: call from a thread)."""
        if self._is_closed:
            return
        self._is_closed = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            if thread.is_alive():
                thread.join()

    def _run(self) -> None:
        conn: Connection | None = None
        try:
            while (call := self._queue.get()) is not None:
                try:
                    if conn is None:
                        conn = self._connect()
                    value = _read(conn, call)
                except Exception as exc:
                    settle([Outcome(call, False, error=unavailable(exc))])
                else:
                    settle([Outcome(call, True, value)])
        finally:
            if conn is not None:
                conn.close()

    def _connect(self) -> Connection:
        conn = self._engine.connect()
        if self._engine.dialect.name == "sqlite":
            return conn.execution_options(**{SQLITE_BEGIN_OPTION: "BEGIN"})
        return conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)


def _read(conn: Connection, call: Call[object]) -> object:
    try:
        with conn.begin():
            return call.operation(conn)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    # The server dropped this connection (restart, failover, idle kill): a read is safe to
    # retry once, on the fresh connection SQLAlchemy opens for it.
    with conn.begin():
        return call.operation(conn)
