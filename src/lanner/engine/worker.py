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

Leases: a claim holds a job for ``lease_s`` (``LANNER_WORKER_LEASE``, default
:data:`LEASE_S`); the worker extends the leases of the jobs it really runs every third of it
(by id: a job it lost track of is left to expire). When the store goes away, every loop
(claims, heartbeats, result reports, a job's read of its execution) retries with backoff
(:mod:`lanner.engine.resilience`); once it answers again, the claims whose answer was lost
in the outage (committed, never received: running for this worker in the store, not here)
are handed back to the queue, and results are reported again (a job already ended adds
nothing: each job reports once).
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
from lanner.engine.resilience import Backoff, StoreLostError, watch
from lanner.engine.results import Results, StoredResults, TaskResult
from lanner.engine.snapshots import Snapshot, Snapshots
from lanner.store import Job, NewEvent, Store

log = logging.getLogger("lanner.worker")

LEASE_S = 10.0
"""A claim's lease (seconds) unless configured: a dead worker's task runs again this long after
its last heartbeat."""
HEARTBEATS_PER_LEASE = 3
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
        lease_s: float = LEASE_S,
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
        self._reporting: list[str] = []  # the jobs of the report under way
        self._results = results or StoredResults(store, feed)
        self._reserved = 0  # slots set aside for jobs the executor loop is writing
        self.lease_s = lease_s
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
            watch(asyncio.create_task(self._claim_loop(), name="lanner-worker-claim")),
            watch(asyncio.create_task(self._flush_loop(), name="lanner-worker-flush")),
            watch(asyncio.create_task(self._heartbeat_loop(), name="lanner-worker-heartbeat")),
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
        try:
            await self._store.requeue_jobs(self._clock(), self.worker_id)
        except Exception as error:  # their leases expire: the leader queues them again
            log.warning("worker %s could not hand its jobs back: %s", self.worker_id, error)

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def concurrency(self) -> int:
        return self._concurrency

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
        backoff = Backoff(f"worker {self.worker_id}: claiming jobs")
        with self._feed.subscribe(ev.JOBS_TOPIC) as wake:
            while self._accepting:
                try:
                    if backoff.failing:
                        await self._hand_back_lost_claims()
                    backoff.succeeded()
                    free = self._concurrency - len(self._running) - self._reserved
                    jobs: list[Job] = []
                    if free > 0:
                        jobs = await self._store.claim_jobs(
                            self.worker_id, self._clock(), free, self.lease_s
                        )
                    for job in jobs:
                        self._spawn(job)
                    if len(jobs) == free and free > 0:
                        continue  # maybe more waiting
                    # Full: wait for a free slot; otherwise for new jobs only.
                    # (Slots set aside for the executor loop count as taken: it frees them.)
                    is_full = len(self._running) + self._reserved >= self._concurrency
                    await self._wait(wake, is_full=is_full)
                except (asyncio.CancelledError, StoreLostError):
                    raise
                except Exception as error:
                    await backoff.pause(error)

    async def _hand_back_lost_claims(self) -> None:
        """After an outage: the jobs running for this worker in the store but not here (a
        claim committed whose answer was lost) go back to the queue. Only with no slot set
        aside for the loop of this process (its write of claimed jobs is not sent yet: the
        one writer runs this before it)."""
        if self._reserved or self._share:  # in one process, the loop ends the jobs it has
            return
        handed = await self._store.requeue_jobs(self._clock(), self.worker_id, keep=self._held())
        if handed:
            log.warning(
                "worker %s: %d claims lost in the outage queued again", self.worker_id, handed
            )

    def _held(self) -> list[str]:
        """The jobs this worker holds: running, or ended with their result not reported yet."""
        return [*self._running, *(r.job_id for r in self._done), *self._reporting]

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

        def done(finished: asyncio.Task[None]) -> None:
            self._running.pop(job.id, None)
            self._slot_free.set()
            if not finished.cancelled() and finished.exception() is not None:
                # Not heartbeated any more: its lease expires and the leader queues it again.
                log.error(
                    "job %s of execution %s abandoned",
                    job.id,
                    job.execution_id,
                    exc_info=finished.exception(),
                )

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
        """The job's execution, read again through store outages (the lease is heartbeated
        meanwhile: the job is running here)."""
        backoff = Backoff(f"worker {self.worker_id}: reading execution {job.execution_id}")
        while True:
            try:
                if self._share:
                    return await self._snapshots.get(job.execution_id, job.tenant_id)
                fresh = Snapshots(self._store, self._snapshots.flows, max_size=1)
                return await fresh.get(job.execution_id, job.tenant_id)
            except (asyncio.CancelledError, StoreLostError):
                raise
            except Exception as error:
                if not self._accepting:
                    raise
                await backoff.pause(error)

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
        backoff = Backoff(f"worker {self.worker_id}: reporting results")
        while True:
            await self._flush_wake.wait()
            self._flush_wake.clear()
            try:
                await self._flush()
                backoff.succeeded()
            except (asyncio.CancelledError, StoreLostError):
                raise
            except Exception as error:
                self._flush_wake.set()
                await backoff.pause(error)

    async def _flush(self) -> None:
        async with self._flushing:
            results, self._done = self._done, []
            self._reporting = [result.job_id for result in results]
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
            finally:
                self._reporting = []
        if logs:
            self._feed.publish(*{logs_topic(e.execution_id) for e in logs if e.execution_id})

    async def _heartbeat_loop(self) -> None:
        backoff = Backoff(f"worker {self.worker_id}: heartbeats")
        while True:
            if not backoff.failing:
                await asyncio.sleep(self.lease_s / HEARTBEATS_PER_LEASE)
            running = self._held()  # a result not reported yet keeps its job too
            if not running:
                backoff.succeeded()
                continue
            try:
                await self._store.heartbeat_jobs(
                    self.worker_id, self._clock(), self.lease_s, job_ids=running
                )
                backoff.succeeded()
            except (asyncio.CancelledError, StoreLostError):
                raise
            except Exception as error:
                await backoff.pause(error)
