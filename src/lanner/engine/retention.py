"""Automatic retention: the server purges old log lines and old executions periodically.

:class:`LogRetention` deletes lines older than ``log_retention``; :class:`HistoryRetention`
deletes ended executions older than ``execution_retention`` or beyond the newest
``max_executions`` of a tenant, with their task runs, labels, logs and internal-storage files,
then gives SQLite's freed pages back to the file system (``incremental_vacuum``). The first
purge runs shortly after start, then every ``PURGE_EVERY_S``; the store deletes in small
transactions (:data:`~lanner.store.protocols.executions.PURGE_BATCH` executions, 10,000 log
lines), so a large purge never holds the writer long and the engine's writes go in between.
``lanner admin logs purge`` does the same for logs once, on demand. Imports the store
protocols and the storage layout only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Protocol

from lanner.domain.times import utc_now
from lanner.storage.uris import execution_prefix
from lanner.store import ExecutionStore, LogStore, PurgedExecution
from lanner.store.protocols.executions import PURGE_BATCH

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


class FileRemover(Protocol):
    """The part of the internal storage a purge needs."""

    async def delete_tree(self, tenant: str, prefix: PurePosixPath) -> bool: ...


class HistoryRetention:
    """Purges ended executions by age and count, periodically, until stopped."""

    def __init__(
        self,
        store: ExecutionStore,
        *,
        retention: timedelta | None = None,
        max_executions: int | None = None,
        storage: FileRemover | None = None,
        first_after_s: float = PURGE_FIRST_AFTER_S,
        every_s: float = PURGE_EVERY_S,
        clock: Callable[[], datetime] = utc_now,
        batch: int = PURGE_BATCH,
    ) -> None:
        self._store = store
        self.retention = retention
        self.max_executions = max_executions
        self._storage = storage
        self._first_after_s = first_after_s
        self._every_s = every_s
        self._clock = clock
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self.purged = 0

    async def purge_once(self) -> int:
        """Delete every execution beyond the retention now, a batch per transaction, and
        reclaim the space; how many executions."""
        deleted = 0
        for tenant in await self._store.execution_tenants():
            before = await self._cutoff(tenant)
            if before is None:
                continue
            while True:
                purged = await self._store.purge_executions(
                    before, tenant_id=tenant, limit=self._batch
                )
                await self._delete_files(purged)
                deleted += len(purged)
                if len(purged) < self._batch:
                    break
        if deleted:
            while await self._store.reclaim_space() > 0:  # bounded pages per transaction
                pass
            log.info("history retention purged %d executions", deleted)
        self.purged += deleted
        return deleted

    async def _cutoff(self, tenant: str) -> datetime | None:
        cutoffs = []
        if self.retention is not None:
            cutoffs.append(self._clock() - self.retention)
        if self.max_executions is not None:
            start = await self._store.nth_newest_start(tenant, self.max_executions)
            if start is not None:
                cutoffs.append(start)
        return max(cutoffs) if cutoffs else None

    async def _delete_files(self, purged: list[PurgedExecution]) -> None:
        if self._storage is None:
            return
        for execution in purged:
            prefix = execution_prefix(execution.namespace, execution.flow_id, execution.id)
            await self._storage.delete_tree(execution.tenant_id, prefix)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lanner-history-retention")

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
                log.exception("history retention purge failed; retrying later")
            await asyncio.sleep(self._every_s)


def start_history_retention(
    store: ExecutionStore,
    retention: timedelta | None,
    max_executions: int | None,
    storage: FileRemover | None,
) -> HistoryRetention | None:
    """A started :class:`HistoryRetention` when a retention is configured, else None."""
    if retention is None and max_executions is None:
        return None
    purger = HistoryRetention(
        store, retention=retention, max_executions=max_executions, storage=storage
    )
    purger.start()
    log.info(
        "history retention: ended executions older than %s or beyond the newest %s are "
        "purged every hour",
        retention,
        max_executions,
    )
    return purger
