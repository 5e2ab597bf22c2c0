"""The worker: claims jobs, renders and runs tasks, reports results in batches.

A ``run`` job runs a runnable task (``runIf`` first; ``timeout`` enforced; async tasks on the
loop, blocking ones in threads); a ``resolve`` job renders what a flowable task needs (``runIf``,
an If condition, a Switch value, ForEach values, Pause durations); a ``finalize`` job renders the
flow outputs. A failure — an exception, a render error — is data: the task ends FAILED with the
error logged. Tasks' log lines stream through the engine's log writer while they run (without
one, they go out with the results: ``add_logs``); results of many jobs go out together once
their lines are committed (and the metrics their tasks recorded are stored, one
``add_metrics`` per flush), as :class:`TaskResult` values to the worker's ``results``
(:mod:`lanner.engine.results`: through the store by default — each job's end and its result
event in one transaction, then ``WORK_TOPIC`` — or, with an executor loop in the same process,
to that loop, which ends each job in the transaction applying its result). A kill
(``kill:<id>`` topic) cancels the execution's running tasks, which report KILLED; a shutdown
cancels them without reporting, and hands their jobs back. A loop in the same process also
hands over the jobs it wrote already claimed for this worker's free slots (``hand_over``): no
queue round trip per task.
Imports the domain, templating, the store protocols and this package.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from lanner.domain.logs import LogEntry
from lanner.domain.states import StateType
from lanner.domain.times import utc_now
from lanner.engine import events as ev
from lanner.engine.feeds import ChangeFeed, Subscription, logs_topic
from lanner.engine.jobs import JobRunner
from lanner.engine.logwriter import LogWriter
from lanner.engine.results import Results, StoredResults, TaskResult
from lanner.engine.snapshots import Snapshot, Snapshots
from lanner.store import Job, NewEvent, Store

log = logging.getLogger("lanner.worker")

LEASE_S = 30.0
HEARTBEAT_S = 10.0
SAFETY_POLL_S = 5.0


class Worker:
    """Runs up to ``concurrency`` jobs at once for ``worker_id``."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        snapshots: Snapshots,
        runner: JobRunner,
        *,
        worker_id: str,
        concurrency: int = 32,
        clock: Callable[[], datetime] = utc_now,
        share_snapshots: bool = True,
        log_writer: LogWriter | None = None,
        results: Results | None = None,
    ) -> None:
        self._store = store
        self._feed = feed
        self._snapshots = snapshots
        self._runner = runner
        self.worker_id = worker_id
        self._concurrency = concurrency
        self._clock = clock
        self._share = share_snapshots
        self._running: dict[str, asyncio.Task[None]] = {}
        self._killed: set[str] = set()
        self._done: list[TaskResult] = []  # not reported yet
        self._results = results or StoredResults(store, feed)
        self._reserved = 0  # slots set aside for jobs the executor loop is writing
        self.lease_s = LEASE_S
        self._logs: list[LogEntry] = []
        self._log_writer = log_writer
        self._flush_wake = asyncio.Event()
        self._flushing = asyncio.Lock()  # one flush at a time (a stop waits for the last)
        self._slot_free = asyncio.Event()
        self._accepting = True
        self._stop_claiming = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Hand back this worker's jobs left from a previous run, then start claiming."""
        await self._store.requeue_jobs(self._clock(), self.worker_id)
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="lanner-worker-claim"),
            asyncio.create_task(self._flush_loop(), name="lanner-worker-flush"),
            asyncio.create_task(self._heartbeat_loop(), name="lanner-worker-heartbeat"),
        ]

    async def stop(self, grace_s: float) -> None:
        """Stop claiming; let running tasks finish within ``grace_s``; hand back the rest."""
        self._accepting = False
        self._stop_claiming.set()
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._flush()  # after the one under way, if any: every result is out
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._store.requeue_jobs(self._clock(), self.worker_id)

    @property
    def running_count(self) -> int:
        return len(self._running)

    def reserve_slots(self) -> int:
        """Set aside the free slots for jobs about to be written claimed for this worker."""
        if not self._accepting:
            return 0
        free = max(self._concurrency - len(self._running) - self._reserved, 0)
        self._reserved += free
        return free

    def hand_over(self, reserved: int, jobs: Sequence[Job]) -> None:
        """Run ``jobs`` (claimed for this worker by the write that created them); release
        the ``reserved`` slots. Once stopping, they are left for the requeue at stop/start."""
        self._reserved -= reserved
        if self._accepting:
            for job in jobs:
                self._spawn(job)
        if reserved:
            self._slot_free.set()

    # -- claiming ------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        with self._feed.subscribe(ev.JOBS_TOPIC) as wake:
            while self._accepting:
                try:
                    free = self._concurrency - len(self._running) - self._reserved
                    jobs: list[Job] = []
                    if free > 0:
                        jobs = await self._store.claim_jobs(
                            self.worker_id, self._clock(), free, LEASE_S
                        )
                    for job in jobs:
                        self._spawn(job)
                    if len(jobs) == free and free > 0:
                        continue  # maybe more waiting
                    # Full: wait for a free slot; otherwise for new jobs only.
                    # (Slots set aside for the executor loop count as taken: it frees them.)
                    is_full = len(self._running) + self._reserved >= self._concurrency
                    await self._wait(wake, is_full=is_full)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("worker claim failed")
                    await asyncio.sleep(1.0)

    async def _wait(self, wake: Subscription, is_full: bool) -> None:
        self._slot_free.clear()
        waiters: list[asyncio.Future[bool]] = [asyncio.ensure_future(self._stop_claiming.wait())]
        if is_full:
            waiters.append(asyncio.ensure_future(self._slot_free.wait()))
        else:
            waiters.append(asyncio.ensure_future(wake.wait(SAFETY_POLL_S)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _spawn(self, job: Job) -> None:
        task = asyncio.create_task(self._execute(job), name=f"lanner-job-{job.id}")
        self._running[job.id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._running.pop(job.id, None)
            self._slot_free.set()

        task.add_done_callback(done)

    # -- one job -------------------------------------------------------------------------------

    async def _execute(self, job: Job) -> None:
        topic = ev.kill_topic(job.execution_id)
        with self._feed.subscribe(topic) as kill_signal:
            snapshot = await self._snapshot(job)
            if snapshot is None:
                self._report(job, None, [])
                return
            if snapshot.execution.state.current in (StateType.KILLING, StateType.KILLED):
                self._report(job, self._runner.killed(job, snapshot), [])
                return
            work = asyncio.create_task(self._runner.run(job, snapshot, self.worker_id))
            watcher = asyncio.create_task(kill_signal.wait())
            try:
                done, _ = await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:  # shutdown: hand the job back unreported
                work.cancel()
                watcher.cancel()
                raise
            watcher.cancel()
            if work in done:
                event, logs = work.result()
                self._report(job, event, logs)
                return
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            self._report(job, self._runner.killed(job, snapshot), [])

    async def _snapshot(self, job: Job) -> Snapshot | None:
        if self._share:
            return await self._snapshots.get(job.execution_id, job.tenant_id)
        fresh = Snapshots(self._store, self._snapshots.flows, max_size=1)
        return await fresh.get(job.execution_id, job.tenant_id)

    def _report(self, job: Job, event: NewEvent | None, logs: list[LogEntry]) -> None:
        if event is None:  # nothing to say (execution gone): end the job with a no-op event
            event = NewEvent(job.execution_id, ev.TASK_RESULT, {"taskRunId": job.task_run_id})
        self._done.append(TaskResult(job.id, job.tenant_id, event))
        if self._log_writer is not None:
            self._log_writer.write(logs)
        else:
            self._logs.extend(logs)
        self._flush_wake.set()

    # -- results -------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await self._flush_wake.wait()
            self._flush_wake.clear()
            try:
                await self._flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker could not report results; retrying")
                await asyncio.sleep(0.5)
                self._flush_wake.set()

    async def _flush(self) -> None:
        async with self._flushing:
            results, self._done = self._done, []
            logs, self._logs = self._logs, []
            metrics = self._runner.take_metrics()
            if not results and not logs and not metrics:
                return
            try:
                if metrics:  # one transaction for every metric of the jobs since the last
                    await self._store.add_metrics(metrics)
                    metrics = []
                if logs:
                    await self._store.add_logs(logs)
                if self._log_writer is not None:
                    # A task's lines are committed before its result: one seen ended is
                    # complete.
                    await self._log_writer.flush()
                await self._results.report(results)
            except BaseException:
                self._done[:0] = results
                self._logs[:0] = [] if not logs else logs
                self._runner.metrics[:0] = metrics
                raise
        if logs:
            self._feed.publish(*{logs_topic(e.execution_id) for e in logs if e.execution_id})

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if self._running:
                try:
                    await self._store.heartbeat_jobs(self.worker_id, self._clock(), LEASE_S)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("worker heartbeat failed")
