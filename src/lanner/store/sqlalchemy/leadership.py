"""Leader election on PostgreSQL: a session-level advisory lock held on a dedicated session.

Multi-node mode runs exactly one active executor: every ``lanner server executor`` process
tries ``pg_try_advisory_lock`` on its own autocommit connection; the one that gets it advances
executions, the others wait as hot standbys and retry every :data:`RETRY_S`. PostgreSQL
releases the lock when the holder's session ends — the process died (kill -9 closes its
socket) or the connection was lost — so a standby takes over within one retry. The holder
waits on its session (a closed session is noticed at once; a silent one by a ``SELECT 1``
every :data:`CHECK_S` and TCP keepalives) and steps down when it is gone.

Fencing: a leader whose session was cut may still be writing while a standby takes the lock.
Its writes carry a :class:`~lanner.store.Fence`: each leader transaction shares the drain
lock and checks, in the database, that its lock session still holds the lock
(``queue.check_fence``); a new leader takes the drain lock once, right after the lock, so
that the last writes of the old one have ended before it reads anything. Standbys retry with
jitter. Imports psycopg; never the engine or the API.
"""

from __future__ import annotations

import asyncio
import logging
import random

import psycopg

from lanner.errors import NotLeaderError
from lanner.store.protocols.queue import Fence
from lanner.store.sqlalchemy.cluster import EXECUTOR_LOCK_KEY as CLUSTER_LOCK_KEY
from lanner.store.sqlalchemy.engines import first_line
from lanner.store.sqlalchemy.notifications import connect, postgres_conninfo

log = logging.getLogger("lanner.leadership")

# The executor's lock key: "LANNEX" in ASCII, an arbitrary constant shared by every node.
EXECUTOR_LOCK_KEY = CLUSTER_LOCK_KEY
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
        self._drain_key = key + 1
        self._retry_s = retry_s
        self._check_s = check_s
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._fence: Fence | None = None
        self._failing = False

    async def acquire(self) -> None:
        """Return once this session holds the lock (waits as long as another one does), and
        the writes of the previous holder have ended."""
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await connect(self._conninfo)
                cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
                row = await cursor.fetchone()
                if self._failing:
                    log.warning("leader election: the database answers again")
                    self._failing = False
                if row is not None and row[0] is True:
                    # The old leader's transactions in flight share this lock: wait for them.
                    await self._conn.execute("SELECT pg_advisory_lock(%s)", (self._drain_key,))
                    await self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._drain_key,))
                    self._fence = Fence(self._key, self._drain_key, self._conn.info.backend_pid)
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._failing:
                    log.warning("leader election: %s", first_line(exc))
                self._failing = True
                await self._drop()
            await asyncio.sleep(self._retry_s * (0.5 + random.random()))

    def fence(self) -> Fence:
        """The fence of the leader's writes; :class:`NotLeaderError` when the lock is not
        held (any more)."""
        if self._fence is None or self._conn is None or self._conn.closed:
            raise NotLeaderError("this executor no longer holds the leadership")
        return self._fence

    async def wait_lost(self) -> None:
        """Return when the session holding the lock is gone (the lock with it)."""
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    raise psycopg.OperationalError("the lock's session is closed")
                # No LISTEN: this only waits, and fails the moment the session closes.
                async for _ in self._conn.notifies(timeout=self._check_s):
                    pass
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
        self._fence = None
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except Exception as exc:
                log.warning("closing the leader lock session: %s", first_line(exc))
