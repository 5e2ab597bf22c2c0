"""Automatic log retention: the server purges lines older than ``log_retention`` periodically.

The first purge runs shortly after start, then every ``PURGE_EVERY_S``; the store deletes in
bounded chunks, so a large purge never holds the writer long. ``lanner admin logs purge`` does
the same once, on demand. Imports the store protocols only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from lanner.domain.times import utc_now
from lanner.store import LogStore

log = logging.getLogger("lanner.logs")

PURGE_FIRST_AFTER_S = 30.0
PURGE_EVERY_S = 3600.0


class LogRetention:
    """Purges lines older than ``retention``, periodically, until stopped."""

    def __init__(
        self,
        store: LogStore,
        retention: timedelta,
        *,
        first_after_s: float = PURGE_FIRST_AFTER_S,
        every_s: float = PURGE_EVERY_S,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self.retention = retention
        self._first_after_s = first_after_s
        self._every_s = every_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.purged = 0

    async def purge_once(self) -> int:
        """Delete the lines older than the retention now; how many."""
        deleted = await self._store.purge_logs(self._clock() - self.retention)
        self.purged += deleted
        if deleted:
            log.info("log retention purged %d lines older than %s", deleted, self.retention)
        return deleted

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lanner-log-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self._first_after_s)
        while True:
            try:
                await self.purge_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("log retention purge failed; retrying later")
            await asyncio.sleep(self._every_s)


def start_log_retention(store: LogStore, retention: timedelta | None) -> LogRetention | None:
    """A started :class:`LogRetention` when a retention is configured, else None."""
    if retention is None:
        return None
    purger = LogRetention(store, retention)
    purger.start()
    log.info("log retention: lines older than %s are purged every hour", retention)
    return purger
