"""``SqlStore``: the :class:`~lanner.store.Store` on SQLAlchemy Core, SQLite or PostgreSQL.

One code path for both dialects: writes go to the :class:`~lanner.store.writer.Writer` (one
thread, batched transactions), reads to the :class:`~lanner.store.readers.ReaderPool`; no
statement costs a thread hop of its own. The query modules (``flows``, ``tokens``,
``executions``, ``queue``, ``logs``) hold the SQL; each public write here is ONE writer
operation, so one transaction (or one savepoint when the writer replays a failed batch).
Imported only by :func:`lanner.store.open_store` (and tests): nothing connects at import.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from lanner.domain.executions import Execution, TaskRun, new_id
from lanner.domain.kv import KVEntry, KVValue
from lanner.domain.logs import LogEntry, LogLevel
from lanner.errors import StoreUnavailableError
from lanner.store import executions, flows, kv, logs, queue, tokens
from lanner.store.engines import check_connection, create_sync_engine, describe, normalize_url
from lanner.store.executions_protocol import (
    ExecutionQuery,
    ExecutionStep,
    ExecutorEvent,
    Job,
    JobClaim,
    LiveExecution,
    NewEvent,
)
from lanner.store.logs_protocol import LogQuery
from lanner.store.migrations import upgrade_to_head
from lanner.store.protocols import ApiToken, FlowQuery, NewFlowRevision, Page, StoredFlow
from lanner.store.readers import ReaderPool
from lanner.store.writer import Writer

DEFAULT_READER_THREADS = 2

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default clock)."""
    return datetime.now(UTC)


class SqlStore:
    """Flows, tokens, executions, the executor and worker queues, logs, KV: SQLite or PostgreSQL.

    Construct, ``await start()``, use, ``await close()``. A bad URL raises
    :class:`~lanner.errors.ConfigError` here; an unreachable database raises
    :class:`~lanner.errors.StoreUnavailableError` from :meth:`start`.
    """

    def __init__(
        self,
        database_url: str,
        *,
        reader_threads: int = DEFAULT_READER_THREADS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.url = normalize_url(database_url)
        self._reader_threads = reader_threads
        self._clock = clock
        self._engine: Engine | None = None
        self._writer: Writer | None = None
        self._readers: ReaderPool | None = None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    @property
    def writer(self) -> Writer:
        """The running writer (for the engine's batched operations and for tests)."""
        if self._writer is None:
            raise StoreUnavailableError("the store is not running (not started, or closed)")
        return self._writer

    @property
    def readers(self) -> ReaderPool:
        """The running reader pool."""
        if self._readers is None:
            raise StoreUnavailableError("the store is not running (not started, or closed)")
        return self._readers

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, migrate to head, start the writer and the readers."""
        if self._engine is not None:
            return
        self._engine = await asyncio.to_thread(self._prepare)
        self._writer = Writer(self._engine)
        self._readers = ReaderPool(self._engine, size=self._reader_threads)
        self._writer.start()
        self._readers.start()
        logger.info("store ready: %s", describe(self.url))

    async def close(self) -> None:
        """Flush queued writes, stop the threads, dispose of the engine."""
        engine, writer, readers = self._engine, self._writer, self._readers
        if engine is None:
            return
        self._engine = self._writer = self._readers = None

        def stop() -> None:
            if writer is not None:
                writer.stop()
            if readers is not None:
                readers.stop()
            engine.dispose()

        await asyncio.to_thread(stop)

    def _prepare(self) -> Engine:
        engine = create_sync_engine(self.url, pool_size=self._reader_threads + 2)
        try:
            check_connection(engine)
            upgrade_to_head(engine)
        except BaseException:
            engine.dispose()
            raise
        return engine

    # --- flows ----------------------------------------------------------------------------

    async def get_flow(
        self,
        tenant_id: str,
        namespace: str,
        flow_id: str,
        *,
        revision: int | None = None,
        allow_deleted: bool = False,
    ) -> StoredFlow | None:
        return await self.readers.run(
            lambda conn: flows.get_flow(
                conn, tenant_id, namespace, flow_id, revision, allow_deleted
            )
        )

    async def add_flow_revision(
        self, flow: NewFlowRevision, *, expected_revision: int | None
    ) -> StoredFlow:
        now = self._clock()
        return await self.writer.submit(
            lambda conn: flows.add_flow_revision(conn, flow, expected_revision, now)
        )

    async def list_flow_revisions(
        self, tenant_id: str, namespace: str, flow_id: str
    ) -> list[StoredFlow]:
        return await self.readers.run(
            lambda conn: flows.list_flow_revisions(conn, tenant_id, namespace, flow_id)
        )

    async def list_flows(self, tenant_id: str, namespace: str | None = None) -> list[StoredFlow]:
        return await self.readers.run(lambda conn: flows.list_flows(conn, tenant_id, namespace))

    async def search_flows(self, query: FlowQuery) -> Page[StoredFlow]:
        return await self.readers.run(lambda conn: flows.search_flows(conn, query))

    async def distinct_namespaces(self, tenant_id: str, q: str | None = None) -> list[str]:
        return await self.readers.run(lambda conn: flows.distinct_namespaces(conn, tenant_id, q))

    # --- tokens ---------------------------------------------------------------------------

    async def add_token(self, token: ApiToken) -> ApiToken:
        return await self.writer.submit(lambda conn: tokens.add_token(conn, token))

    async def list_tokens(self) -> list[ApiToken]:
        return await self.readers.run(tokens.list_tokens)

    async def find_token(self, token_hash: str) -> ApiToken | None:
        return await self.readers.run(lambda conn: tokens.find_token(conn, token_hash))

    async def revoke_token(self, name: str) -> bool:
        return await self.writer.submit(lambda conn: tokens.revoke_token(conn, name))

    async def count_active_tokens(self, now: datetime) -> int:
        return await self.readers.run(lambda conn: tokens.count_active_tokens(conn, now))

    # --- executions -----------------------------------------------------------------------

    async def create_execution(self, execution: Execution) -> None:
        now = self._clock()
        await self.writer.submit(lambda conn: executions.create_execution(conn, execution, now))

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution | None:
        return await self.readers.run(
            lambda conn: executions.get_execution(conn, tenant_id, execution_id)
        )

    async def list_task_runs(self, execution_id: str) -> list[TaskRun]:
        return await self.readers.run(lambda conn: executions.list_task_runs(conn, execution_id))

    async def load_executions(
        self, tenants: Mapping[str, str]
    ) -> dict[str, tuple[Execution, list[TaskRun]]]:
        if not tenants:
            return {}
        wanted = dict(tenants)
        return await self.readers.run(lambda conn: executions.load_executions(conn, wanted))

    async def search_executions(self, query: ExecutionQuery) -> Page[Execution]:
        return await self.readers.run(lambda conn: executions.search_executions(conn, query))

    async def live_executions(
        self, tenant_id: str, namespace: str, flow_id: str
    ) -> list[LiveExecution]:
        return await self.readers.run(
            lambda conn: executions.live_executions(conn, tenant_id, namespace, flow_id)
        )

    async def delete_execution(self, tenant_id: str, execution_id: str) -> bool:
        return await self.writer.submit(
            lambda conn: executions.delete_execution(conn, tenant_id, execution_id)
        )

    async def apply_steps(
        self, steps: Sequence[ExecutionStep], *, claim: JobClaim | None = None
    ) -> list[Job]:
        """All the steps or, when one cannot be applied, none of them: a step whose task run
        belongs to no execution raises :class:`~lanner.errors.ConflictError`, a step whose
        execution id disagrees with its execution :class:`ValueError`, before any write.
        Events addressed to an execution that does not exist (any more) are dropped."""
        for step in steps:
            if step.execution is not None and step.execution.id != step.execution_id:
                raise ValueError(
                    f"step for execution {step.execution_id!r} carries execution "
                    f"{step.execution.id!r}"
                )
        if not steps:
            return []
        now = self._clock()
        # Ids are drawn here, not in the operation, which the writer may run twice.
        job_ids = [new_id() for step in steps for _ in step.jobs]
        return await self.writer.submit(
            lambda conn: executions.apply_steps(conn, steps, job_ids, now, claim)
        )

    # --- queues ---------------------------------------------------------------------------

    async def due_events(self, now: datetime, limit: int) -> list[ExecutorEvent]:
        return await self.readers.run(lambda conn: queue.due_events(conn, now, limit))

    async def next_event_time(self) -> datetime | None:
        return await self.readers.run(queue.next_event_time)

    async def add_events(self, events: Sequence[NewEvent]) -> None:
        """Events addressed to an execution that does not exist are dropped."""
        if not events:
            return
        now = self._clock()
        await self.writer.submit(lambda conn: queue.add_events(conn, events, now))

    async def claim_jobs(
        self, worker_id: str, now: datetime, limit: int, lease_s: float
    ) -> list[Job]:
        """Claims go through the writer: atomic on SQLite, ``SKIP LOCKED`` on PostgreSQL.
        Each claim counts in ``Job.attempts``; jobs come oldest first."""
        return await self.writer.submit(
            lambda conn: queue.claim_jobs(conn, worker_id, now, limit, lease_s)
        )

    async def complete_jobs(self, results: Sequence[tuple[str, NewEvent]]) -> None:
        """A job already gone (completed by another worker after its lease expired and it was
        claimed again, or deleted with its execution) adds no event: each job ends once."""
        if not results:
            return
        now = self._clock()
        await self.writer.submit(lambda conn: queue.complete_jobs(conn, results, now))

    async def heartbeat_jobs(self, worker_id: str, now: datetime, lease_s: float) -> None:
        await self.writer.submit(lambda conn: queue.heartbeat_jobs(conn, worker_id, now, lease_s))

    async def requeue_jobs(self, now: datetime, worker_id: str | None = None) -> int:
        return await self.writer.submit(lambda conn: queue.requeue_jobs(conn, now, worker_id))

    # --- logs -----------------------------------------------------------------------------

    async def add_logs(self, entries: Sequence[LogEntry]) -> None:
        if entries:
            await self.writer.submit(lambda conn: logs.add_logs(conn, entries))

    async def list_logs(
        self,
        tenant_id: str,
        execution_id: str,
        *,
        min_level: LogLevel | None = None,
        task_run_id: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        return await self.readers.run(
            lambda conn: logs.list_logs(
                conn,
                tenant_id,
                execution_id,
                min_level=min_level,
                task_run_id=task_run_id,
                task_id=task_id,
                attempt=attempt,
                after_seq=after_seq,
                limit=limit,
            )
        )

    async def search_logs(self, query: LogQuery) -> Page[LogEntry]:
        return await self.readers.run(lambda conn: logs.search_logs(conn, query))

    async def delete_logs(
        self,
        tenant_id: str,
        execution_id: str,
        *,
        min_level: LogLevel | None = None,
        task_run_id: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
    ) -> int:
        return await self.writer.submit(
            lambda conn: logs.delete_logs(
                conn,
                tenant_id,
                execution_id,
                min_level=min_level,
                task_run_id=task_run_id,
                task_id=task_id,
                attempt=attempt,
            )
        )

    async def delete_flow_logs(
        self, tenant_id: str, namespace: str, flow_id: str, *, trigger_id: str | None = None
    ) -> int:
        return await self.writer.submit(
            lambda conn: logs.delete_flow_logs(conn, tenant_id, namespace, flow_id, trigger_id)
        )

    async def purge_logs(
        self,
        before: datetime,
        *,
        tenant_id: str | None = None,
        namespace: str | None = None,
        flow_id: str | None = None,
        levels: Sequence[LogLevel] = (),
    ) -> int:
        chosen = tuple(levels)
        total = 0
        while True:  # one bounded transaction per chunk: other writes go in between
            deleted = await self.writer.submit(
                lambda conn: logs.purge_chunk(conn, before, tenant_id, namespace, flow_id, chosen)
            )
            total += deleted
            if deleted < logs.PURGE_CHUNK_ROWS:
                return total

    # --- KV store -------------------------------------------------------------------------

    async def put_kv(
        self,
        tenant_id: str,
        namespace: str,
        key: str,
        value: KVValue,
        *,
        ttl: timedelta | None = None,
        description: str | None = None,
        overwrite: bool = True,
    ) -> KVEntry:
        now = self._clock()
        return await self.writer.submit(
            lambda conn: kv.put_kv(
                conn,
                tenant_id,
                namespace,
                key,
                value,
                ttl=ttl,
                description=description,
                overwrite=overwrite,
                now=now,
            )
        )

    async def get_kv(self, tenant_id: str, namespace: str, key: str) -> KVEntry | None:
        return await self.readers.run(lambda conn: kv.get_kv(conn, tenant_id, namespace, key))

    async def list_kv(self, tenant_id: str, namespace: str) -> list[KVEntry]:
        now = self._clock()
        return await self.readers.run(lambda conn: kv.list_kv(conn, tenant_id, namespace, now))

    async def delete_kv(self, tenant_id: str, namespace: str, keys: Sequence[str]) -> list[str]:
        return await self.writer.submit(lambda conn: kv.delete_kv(conn, tenant_id, namespace, keys))
