"""The engine's roles: ``Engine`` (embedded: executor loop and worker in one process, started
and stopped as one), ``ExecutorService`` and ``WorkerService`` (multi-node: one role each).

Multi-node (PostgreSQL only) runs one active executor, any number of workers and any number of
API nodes against one database; the change feed is bridged across processes by
``LISTEN/NOTIFY``. ``ExecutorService`` advances executions only while it holds the leadership
(an advisory lock on a dedicated session): a second executor waits as a hot standby and takes
over, with fresh snapshots, when the leader dies or loses its session. The leader's loop
ends the leases that ran out (a dead worker's jobs) at their expiry, and runs pure jobs
(:mod:`lanner.engine.inline`: Return, Log, OutputValues, flowables' rendering, flow outputs)
in its own step with its own :class:`JobRunner`, as the embedded engine does: no job row, no
worker hop, their attempts naming ``executor_id``. A term that fails (the
store went away while it started, or its loop was fenced out: another executor leads)
gives the lock up before anything else — a process never holds the lock while not leading —
and the service tries again with backoff and jitter; each new term re-checks the
leadership (a fresh lock session) and starts from the store. ``WorkerService``
claims queued jobs with ``claim_jobs`` (``SKIP LOCKED``), heartbeats their leases and reports
through the store (``StoredResults``: ``complete_jobs``); it reads each job's execution from
the store (no shared snapshots).

Embedded ``Engine``:
``start()`` hands back this worker's jobs left by a previous run (and any job whose lease
expired), then runs the loop — which picks up every persisted event, so executions accepted
before a crash go on — and the worker, which reports its results to the loop in memory
(``LocalResults``). ``stop(grace_s)`` is the SIGTERM path: results go through the store from
then on; stop claiming, let running tasks finish within the grace period, hand the rest back,
stop the loop (which stores the results it had not decided on), then commit the log lines
still buffered. ``masker`` hides secret values from task log lines (the
runtime functions' registry of the secrets they handed out).
Imports the store protocols, templating and this package.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from lanner.domain.times import utc_now
from lanner.engine.context import kestra_envs
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed
from lanner.engine.flow_trigger_role import FlowTriggerRole
from lanner.engine.jobs import DEFAULT_MAX_OUTPUT_BYTES, JobRunner
from lanner.engine.logging import Masker
from lanner.engine.logwriter import LogWriter
from lanner.engine.loop import ExecutorLoop
from lanner.engine.resilience import Backoff, StoreLostError, watch
from lanner.engine.results import LocalResults, StoredResults
from lanner.engine.snapshots import FlowCache, Snapshots
from lanner.engine.submit import Submitter
from lanner.engine.worker import LEASE_S, Worker
from lanner.errors import NotLeaderError
from lanner.storage import LocalStorage
from lanner.store import Fence, Store
from lanner.templating import TemplateEngine

log = logging.getLogger("lanner.engine")

DEFAULT_WORKER_CONCURRENCY = 32


class Leadership(Protocol):
    """A lock at most one process holds (``lanner.store.sqlalchemy.leadership.AdvisoryLock``)."""

    async def acquire(self) -> None:
        """Return once held (wait as long as another process holds it)."""
        ...

    async def wait_lost(self) -> None:
        """Return when it may no longer be held."""
        ...

    async def release(self) -> None:
        """Give it up."""
        ...

    def fence(self) -> Fence | None:
        """What the leader's writes are checked against (None: unfenced);
        :class:`lanner.errors.NotLeaderError` when no longer held."""
        ...


def job_runner(
    store: Store,
    templates: TemplateEngine,
    log_writer: LogWriter,
    *,
    environ: Mapping[str, str] | None = None,
    globals_: Mapping[str, Any] | None = None,
    masker: Masker | None = None,
    decrypt: Callable[[str], str] | None = None,
    submitter: Submitter | None = None,
    storage: LocalStorage | None = None,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> JobRunner:
    """The runner of a worker's jobs (``envs`` from ``environ``, default the process's);
    tasks' files go to ``storage`` (default: a private one under the process's work root)."""
    return JobRunner(
        store,
        templates,
        envs=kestra_envs(environ if environ is not None else os.environ),
        globals_=globals_,
        log_writer=log_writer,
        masker=masker,
        decrypt=decrypt,
        submitter=submitter,
        storage=storage,
        max_output_bytes=max_output_bytes,
    )


class Engine:
    """The embedded engine: one executor loop and one worker sharing live snapshots."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        *,
        templates: TemplateEngine | None = None,
        worker_concurrency: int = DEFAULT_WORKER_CONCURRENCY,
        worker_id: str | None = None,
        environ: Mapping[str, str] | None = None,
        globals_: Mapping[str, Any] | None = None,
        masker: Masker | None = None,
        decrypt: Callable[[str], str] | None = None,
        submitter: Submitter | None = None,
        storage: LocalStorage | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        lease_s: float = LEASE_S,
    ) -> None:
        self.store = store
        self.feed = feed
        self.templates = templates or TemplateEngine()
        self.snapshots = Snapshots(store, FlowCache(store))
        self.masker = masker
        self.log_writer = LogWriter(store, feed)
        # One process: results and new jobs pass between the loop and the worker directly.
        self.results = LocalResults(StoredResults(store, feed), clock=utc_now)
        submitter = submitter or Submitter(store, feed, templates=self.templates)
        # New executions due now start in the loop's next write (one transaction).
        submitter.admit_through(self.results.admit)
        # Flow triggers: the executor records the transitions this role reacts to.
        self.flow_triggers = FlowTriggerRole(store, feed, submitter, templates=self.templates)
        self.loop = ExecutorLoop(
            store,
            feed,
            self.snapshots,
            log_writer=self.log_writer,
            results=self.results,
            watch=self.flow_triggers.index.watches,
        )
        runner = job_runner(
            store,
            self.templates,
            self.log_writer,
            environ=environ,
            globals_=globals_,
            masker=self.masker,
            decrypt=decrypt,
            submitter=submitter,
            storage=storage,
            max_output_bytes=max_output_bytes,
        )
        # A stable id: after a crash, the next start hands this worker's jobs back at once.
        self.worker = Worker(
            store,
            feed,
            self.snapshots,
            runner,
            worker_id=worker_id or f"{socket.gethostname()}/embedded",
            concurrency=worker_concurrency,
            log_writer=self.log_writer,
            results=self.results,
            lease_s=lease_s,
        )
        self.loop.attach(self.worker, inline=runner)
        self._loop_task: asyncio.Task[None] | None = None
        self._triggers_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.requeue_jobs(utc_now())
        self.log_writer.start()
        await self.worker.start()
        await self.flow_triggers.refresh()  # the index is whole before the first transition
        self._loop_task = asyncio.create_task(self.loop.run(), name="lanner-executor")
        self._triggers_task = asyncio.create_task(
            self.flow_triggers.run(), name="lanner-flow-triggers"
        )
        self.feed.publish(WORK_TOPIC)
        log.info("engine started (worker %s)", self.worker.worker_id)

    async def stop(self, grace_s: float = 10.0) -> None:
        self.results.close()  # the last results are durable before their jobs are handed back
        await self.worker.stop(grace_s)
        self.loop.stop()
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(self._loop_task, timeout=max(grace_s, 1.0))
            except TimeoutError:
                self._loop_task.cancel()
                await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        self.flow_triggers.stop()  # pending transitions wait in the store for the next start
        if self._triggers_task is not None:
            await asyncio.gather(self._triggers_task, return_exceptions=True)
            self._triggers_task = None
        await self.log_writer.stop()  # after the worker and the loop: their last lines too


class ExecutorService:
    """The executor role: the executor loop, run only while ``leadership`` is held."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        leadership: Leadership,
        *,
        submitter: Submitter | None = None,
        templates: TemplateEngine | None = None,
        environ: Mapping[str, str] | None = None,
        globals_: Mapping[str, Any] | None = None,
        masker: Masker | None = None,
        decrypt: Callable[[str], str] | None = None,
        storage: LocalStorage | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        executor_id: str | None = None,
    ) -> None:
        self.store = store
        self.feed = feed
        self._leadership = leadership
        self._templates = templates or TemplateEngine()
        self._submitter = submitter or Submitter(store, feed, templates=self._templates)
        self._flows = FlowCache(store)
        self.log_writer = LogWriter(store, feed)
        # Pure jobs (engine/inline.py) run in the leader's step, as in the embedded engine:
        # no job row, no worker hop, no second transaction.
        self._inline = job_runner(
            store,
            self._templates,
            self.log_writer,
            environ=environ,
            globals_=globals_,
            masker=masker,
            decrypt=decrypt,
            submitter=self._submitter,
            storage=storage,
            max_output_bytes=max_output_bytes,
        )
        self.executor_id = executor_id or f"{socket.gethostname()}/executor-{os.getpid()}"
        self._loop: ExecutorLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def is_leader(self) -> bool:
        return self._loop is not None

    async def start(self) -> None:
        self.log_writer.start()
        self._task = watch(asyncio.create_task(self._run(), name="lanner-executor-role"))
        log.info("executor started: waiting for the leadership")

    async def _run(self) -> None:
        backoff = Backoff("executor: leader term")
        while not self._stopping:
            await self._leadership.acquire()
            try:
                await self._term()
                backoff.succeeded()
            except (asyncio.CancelledError, StoreLostError):
                await self._leadership.release()
                raise
            except NotLeaderError:  # fenced out: the lock's session was cut
                await self._leadership.release()
                if not self._stopping:
                    log.error("executor fenced out (the lock was lost): standing by")
                continue
            except Exception as error:
                # Never hold the lock while not leading: the standby may lead meanwhile.
                await self._leadership.release()
                if self._stopping:
                    return
                log.error("executor term ended: %s; standing by", error)
                await backoff.pause(error)
                continue
            await self._leadership.release()
            if not self._stopping:
                log.error("executor lost the leadership: standing by")

    async def _term(self) -> None:
        """One leadership term: from the store's state, until the lock is lost, the loop is
        fenced out or fails for good, or the service stops."""
        # A term starts from the store: snapshots of a previous term may be stale.
        triggers = FlowTriggerRole(
            self.store, self.feed, self._submitter, templates=self._templates
        )
        await triggers.refresh()
        loop = ExecutorLoop(
            self.store,
            self.feed,
            Snapshots(self.store, self._flows),
            log_writer=self.log_writer,
            watch=triggers.index.watches,
            fence=self._leadership.fence,
        )
        loop.attach(None, inline=self._inline, runner_id=self.executor_id)
        self._loop = loop
        log.info("executor is the leader: advancing executions")
        running = asyncio.create_task(loop.run(), name="lanner-executor")
        reacting = asyncio.create_task(triggers.run(), name="lanner-flow-triggers")
        lost = asyncio.create_task(self._leadership.wait_lost())
        try:
            await asyncio.wait({running, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            loop.stop()
            triggers.stop()
            await asyncio.gather(running, reacting, lost, return_exceptions=True)
            self._loop = None
        if running.done() and not running.cancelled() and running.exception() is not None:
            error = running.exception()
            assert error is not None
            raise error

    async def stop(self, grace_s: float = 10.0) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            if self._loop is not None:
                self._loop.stop()  # let the current batch commit
            else:
                task.cancel()  # waiting for the leadership
            _, pending = await asyncio.wait({task}, timeout=max(grace_s, 1.0))
            for late in pending:
                late.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._leadership.release()
        await self.log_writer.stop()


class WorkerService:
    """The worker role: claims queued jobs, runs them, reports through the store."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        *,
        worker_id: str,
        templates: TemplateEngine | None = None,
        concurrency: int = DEFAULT_WORKER_CONCURRENCY,
        environ: Mapping[str, str] | None = None,
        globals_: Mapping[str, Any] | None = None,
        masker: Masker | None = None,
        decrypt: Callable[[str], str] | None = None,
        submitter: Submitter | None = None,
        storage: LocalStorage | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        lease_s: float = LEASE_S,
    ) -> None:
        self.log_writer = LogWriter(store, feed)
        runner = job_runner(
            store,
            templates or TemplateEngine(),
            self.log_writer,
            environ=environ,
            globals_=globals_,
            masker=masker,
            decrypt=decrypt,
            submitter=submitter or Submitter(store, feed, templates=templates),
            storage=storage,
            max_output_bytes=max_output_bytes,
        )
        # Another process advances the executions: read each job's execution afresh, and
        # report through the store.
        self.worker = Worker(
            store,
            feed,
            Snapshots(store, FlowCache(store)),
            runner,
            worker_id=worker_id,
            concurrency=concurrency,
            share_snapshots=False,
            log_writer=self.log_writer,
            results=StoredResults(store, feed),
            lease_s=lease_s,
        )

    async def start(self) -> None:
        self.log_writer.start()
        await self.worker.start()
        log.info("worker %s started", self.worker.worker_id)

    async def stop(self, grace_s: float = 10.0) -> None:
        await self.worker.stop(grace_s)
        await self.log_writer.stop()
