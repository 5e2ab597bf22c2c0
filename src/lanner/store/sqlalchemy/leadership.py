"""Leader election on PostgreSQL: a session-level advisory lock held on a dedicated session.

Multi-node mode runs exactly one active executor: every ``lanner server executor`` process
tries ``pg_try_advisory_lock`` on its own autocommit connection; the one that gets it advances
executions, the others wait as hot standbys and retry every :data:`RETRY_S`. PostgreSQL
releases the lock when the holder's session ends — the process died (kill -9 closes its
socket) or the connection was lost — so a standby takes over within one retry. The holder
checks its session every :data:`CHECK_S` and steps down when it is gone (it may no longer hold
the lock). Imports psycopg; never the engine or the API.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from lanner.store.sqlalchemy.engines import first_line
from lanner.store.sqlalchemy.notifications import connect, postgres_conninfo

log = logging.getLogger("lanner.leadership")

EXECUTOR_LOCK_KEY = 0x4C414E4E4558
"""The executor's lock key: "LANNEX" in ASCII, an arbitrary constant shared by every node."""
RETRY_S = 1.0
CHECK_S = 2.0


class AdvisoryLock:
    """One session-level advisory lock: :meth:`acquire` waits for it, :meth:`wait_lost`
    returns when it may be gone, :meth:`release` gives it up."""

    def __init__(
        self,
        database_url: str,
        key: int = EXECUTOR_LOCK_KEY,
        *,
        retry_s: float = RETRY_S,
        check_s: float = CHECK_S,
    ) -> None:
        self._conninfo = postgres_conninfo(database_url, purpose="leader election")
        self._key = key
        self._retry_s = retry_s
        self._check_s = check_s
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def acquire(self) -> None:
        """Return once this session holds the lock (waits as long as another one does)."""
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await connect(self._conninfo)
                cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                row = await cursor.fetchone()
                if row is not None and row[0] is True:
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("leader election: %s", first_line(exc))
                await self._drop()
            await asyncio.sleep(self._retry_s)

    async def wait_lost(self) -> None:
        """Return when the session holding the lock is gone (the lock with it)."""
        while True:
            await asyncio.sleep(self._check_s)
            try:
                if self._conn is None or self._conn.closed:
                    raise psycopg.OperationalError("the lock's session is closed")
                await self._conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("leader lock session lost: %s", first_line(exc))
                await self._drop()
                return

    async def release(self) -> None:
        """Give the lock up (ending the session releases it too)."""
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except Exception as exc:
                log.warning("closing the leader lock session: %s", first_line(exc))
