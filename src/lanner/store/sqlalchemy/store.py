"""``SqlStore``: the :class:`~lanner.store.Store` on SQLAlchemy Core, SQLite or PostgreSQL.

One code path for both dialects: writes go to the
:class:`~lanner.store.sqlalchemy.writer.Writer` (one thread, batched transactions), reads to
the :class:`~lanner.store.sqlalchemy.readers.ReaderPool`; no statement costs a thread hop of
its own. The query modules (``flows``, ``tokens``, ``executions``, ``queue``, ``logs``, ``kv``)
hold the SQL; most methods are those query functions handed over by
:mod:`~lanner.store.sqlalchemy.forwarding`, and the few written out check or prepare their
arguments first. Each public write is ONE writer operation, so one transaction (or one
savepoint when the writer replays a failed batch), except :meth:`SqlStore.purge_logs`, one per
chunk. Imported only by :func:`lanner.store.open_store` (and tests): nothing connects at import.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine

from lanner.domain.executions import Execution, TaskRun, new_id
from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.times import utc_now
from lanner.errors import StoreUnavailableError
from lanner.store.protocols.executions import ExecutionQuery, ExecutionStep
from lanner.store.protocols.flows import FlowQuery, StoredFlow
from lanner.store.protocols.logs import LogQuery
from lanner.store.protocols.pages import Page
from lanner.store.protocols.queue import Fence, Job, JobClaim, NewEvent
from lanner.store.sqlalchemy import (
    cluster,
    executions,
    flow_triggers,
    flows,
    kv,
    logs,
    metrics,
    queue,
    tokens,
    triggers,
)
from lanner.store.sqlalchemy.counts import DEFAULT_COUNT_BOUND
from lanner.store.sqlalchemy.engines import (
    check_connection,
    create_sync_engine,
    describe,
    normalize_url,
)
from lanner.store.sqlalchemy.forwarding import reads, reads_at_now, writes, writes_at_now
from lanner.store.sqlalchemy.logs import add_logs as add_log_rows
from lanner.store.sqlalchemy.migrations import upgrade_to_head
from lanner.store.sqlalchemy.readers import ReaderPool
from lanner.store.sqlalchemy.writer import Writer

DEFAULT_READER_THREADS = 2

logger = logging.getLogger(__name__)


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
        count_bound: int = DEFAULT_COUNT_BOUND,
    ) -> None:
        self.url = normalize_url(database_url)
        #: Search totals are exact up to this many matches, estimated beyond (``counts``).
        self.count_bound = count_bound
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

    def now(self) -> datetime:
        """The store's clock: the time it stamps writes with."""
        return self._clock()

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

    get_flow = reads(flows.get_flow)
    add_flow_revision = writes_at_now(flows.add_flow_revision)
    list_flow_revisions = reads(flows.list_flow_revisions)
    list_flows = reads(flows.list_flows)

    async def search_flows(self, query: FlowQuery) -> Page[StoredFlow]:
        bound = self.count_bound
        return await self.readers.run(
            lambda conn: flows.search_flows(conn, query, count_bound=bound)
        )

    distinct_namespaces = reads(flows.distinct_namespaces)

    # --- tokens ---------------------------------------------------------------------------

    add_token = writes(tokens.add_token)
    list_tokens = reads(tokens.list_tokens)
    find_token = reads(tokens.find_token)
    revoke_token = writes(tokens.revoke_token)
    count_active_tokens = reads(tokens.count_active_tokens)

    # --- executions -----------------------------------------------------------------------

    create_execution = writes_at_now(executions.create_execution)
    get_execution = reads(executions.get_execution)
    list_task_runs = reads(executions.list_task_runs)
    get_ended_execution = reads(executions.get_ended_execution)
    list_task_run_outlines = reads(executions.list_task_run_outlines)
    get_task_runs = reads(executions.get_task_runs)

    async def search_executions(self, query: ExecutionQuery) -> Page[Execution]:
        bound = self.count_bound
        return await self.readers.run(
            lambda conn: executions.search_executions(conn, query, count_bound=bound)
        )

    live_executions = reads(executions.live_executions)
    delete_execution = writes(executions.delete_execution)
    purge_executions = writes(executions.purge_executions)
    execution_tenants = reads(executions.execution_tenants)
    nth_newest_start = reads(executions.nth_newest_start)
    reclaim_space = writes(executions.reclaim_space)

    async def load_executions(
        self, tenants: Mapping[str, str]
    ) -> dict[str, tuple[Execution, list[TaskRun]]]:
        if not tenants:
            return {}
        wanted = dict(tenants)
        return await self.readers.run(lambda conn: executions.load_executions(conn, wanted))

    async def apply_steps(
        self,
        steps: Sequence[ExecutionStep],
        *,
        claim: JobClaim | None = None,
        logs: Sequence[LogEntry] = (),
        fence: Fence | None = None,
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
        lines = tuple(logs)

        def operation(conn: Connection) -> list[Job]:
            claimed = executions.apply_steps(conn, steps, job_ids, now, claim, fence)
            if lines:
                add_log_rows(conn, lines)
            return claimed

        return await self.writer.submit(operation)

    # --- queues ---------------------------------------------------------------------------

    due_events = reads(queue.due_events)
    next_event_time = reads(queue.next_event_time)
    queue_depth = reads(queue.queue_depth)
    count_executions_by_state = reads(queue.count_executions_by_state)
    # Claims go through the writer: atomic on SQLite, ``SKIP LOCKED`` on PostgreSQL.
    claim_jobs = writes(queue.claim_jobs)
    heartbeat_jobs = writes(queue.heartbeat_jobs)
    requeue_jobs = writes(queue.requeue_jobs)
    expire_jobs = writes(queue.expire_jobs)
    job_counts = reads(queue.job_counts)
    cluster_nodes = reads(cluster.cluster_nodes)

    async def add_events(self, events: Sequence[NewEvent]) -> None:
        """Events addressed to an execution that does not exist are dropped."""
        if not events:
            return
        now = self._clock()
        await self.writer.submit(lambda conn: queue.add_events(conn, events, now))

    async def complete_jobs(self, results: Sequence[tuple[str, NewEvent]]) -> None:
        """A job already gone (completed by another worker after its lease expired and it was
        claimed again, or deleted with its execution) adds no event: each job ends once."""
        if not results:
            return
        now = self._clock()
        await self.writer.submit(lambda conn: queue.complete_jobs(conn, results, now))

    # --- metrics --------------------------------------------------------------------------

    add_metrics = writes(metrics.add_metrics)
    search_metrics = reads(metrics.search_metrics)
    metric_names = reads(metrics.metric_names)
    metric_tasks = reads(metrics.metric_tasks)
    delete_execution_metrics = writes(metrics.delete_execution_metrics)

    # --- logs -----------------------------------------------------------------------------

    list_logs = reads(logs.list_logs)

    async def search_logs(self, query: LogQuery) -> Page[LogEntry]:
        bound = self.count_bound
        return await self.readers.run(lambda conn: logs.search_logs(conn, query, count_bound=bound))

    delete_logs = writes(logs.delete_logs)
    delete_flow_logs = writes(logs.delete_flow_logs)

    async def add_logs(self, entries: Sequence[LogEntry]) -> None:
        if entries:
            await self.writer.submit(lambda conn: logs.add_logs(conn, entries))

    async def purge_logs(
        self,
        before: datetime,
        *,
        tenant_id: str | None = None,
        namespace: str | None = None,
        flow_id: str | None = None,
        levels: Sequence[LogLevel] = (),
        after: datetime | None = None,
        execution_id: str | None = None,
        of_executions: bool | None = None,
    ) -> int:
        chosen = tuple(levels)
        total = 0
        while True:  # one bounded transaction per chunk: other writes go in between
            deleted = await self.writer.submit(
                lambda conn: logs.purge_chunk(
                    conn,
                    before,
                    tenant_id,
                    namespace,
                    flow_id,
                    chosen,
                    after,
                    execution_id,
                    of_executions,
                )
            )
            total += deleted
            if deleted < logs.PURGE_CHUNK_ROWS:
                return total

    # --- KV store -------------------------------------------------------------------------

    put_kv = writes_at_now(kv.put_kv)
    get_kv = reads(kv.get_kv)
    list_kv = reads_at_now(kv.list_kv)
    expired_kv_keys = reads_at_now(kv.expired_kv_keys)
    delete_kv = writes(kv.delete_kv)

    # --- flow triggers ------------------------------------------------------------------------

    pending_transitions = reads(flow_triggers.pending_transitions)
    settle_transition = writes(flow_triggers.settle_transition)
    get_windows = reads(flow_triggers.get_windows)
    purge_windows = writes(flow_triggers.purge_windows)
    changed_flows = reads(flow_triggers.changed_flows)
    # --- triggers and leases --------------------------------------------------------------

    get_trigger = reads(triggers.get_trigger)
    list_triggers = reads(triggers.list_triggers)
    search_triggers = reads(triggers.search_triggers)
    save_trigger = writes_at_now(triggers.save_trigger)
    delete_trigger = writes(triggers.delete_trigger)
    list_scheduled_flows = reads(triggers.list_scheduled_flows)
    flows_version = reads(triggers.flows_version)
    acquire_lease = writes_at_now(triggers.acquire_lease)
    release_lease = writes(triggers.release_lease)
