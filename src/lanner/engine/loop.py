"""The executor loop: due events in batches → ``decide`` per execution → one ``apply_steps``.

Wakes on ``WORK_TOPIC`` and when the next timer is due (no polling delay; a slow safety poll
covers wake-ups lost between processes). Every batch is one transaction (group commit); after
it, each changed execution's topic is published (the API waits on those), ``kill:<id>`` for
executions entering KILLING (workers interrupt their tasks) and ``WORK_TOPIC`` when jobs or
events were added. Events persist until a step consumes them, so after a crash the next start
simply picks them up again.

The loop decides on events only: the store's due events, and the task results a worker in
this process handed over (:class:`lanner.engine.results.LocalResults`: events with no row that
name the job they end; a step's ``consumed_events`` and ``finished_jobs`` come from its
events). In one process the loop and the worker skip the queue tables' round trips (the job
stays the durable record): results come through ``LocalResults``, and ``apply_steps`` inserts
the new jobs already claimed for the worker's free slots, which it starts at once (no
``claim_jobs``). The store is only read for events when ``WORK_TOPIC`` was published, a timer
is due or the safety poll runs. A multi-node leader has no worker in its process but runs
pure jobs in its step all the same (:meth:`ExecutorLoop.attach` with its own runner). Due
events come oldest execution first (``due_events``), so under a backlog older executions
advance first.

Leases: the loop ends the leases of other workers' jobs when they run out (``expire_jobs``,
which also names the next expiry: the loop wakes right then, and checks at least every
:data:`EXPIRY_SCAN_S` for leases taken since); a lost ``run`` job comes back as a
``job_lost`` event. A multi-node leader passes its ``fence``: each batch commits only while
the leadership holds (:class:`~lanner.errors.NotLeaderError` ends :meth:`ExecutorLoop.run`).
A failed store call is retried with backoff and jitter (:mod:`lanner.engine.resilience`).
Imports the store protocols, the feed and this package.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from lanner.domain.logs import LogEntry
from lanner.domain.states import StateType
from lanner.domain.times import utc_now
from lanner.engine.decisions import Decisions
from lanner.engine.events import CREATED, FLOW_TRIGGERS_TOPIC, JOBS_TOPIC, kill_topic
from lanner.engine.feeds import (
    WORK_TOPIC,
    ChangeFeed,
    Subscription,
    execution_topic,
    logs_topic,
)
from lanner.engine.inline import BUDGET, can_inline, merge
from lanner.engine.jobs import JobRunner
from lanner.engine.logging import execution_lines
from lanner.engine.logwriter import LogWriter
from lanner.engine.resilience import Backoff, StoreLostError
from lanner.engine.results import (
    Admission,
    LocalResults,
    StoredResults,
    refuse,
    round_trip,
    settle,
)
from lanner.engine.runs import RunIndex
from lanner.engine.snapshots import FlowMissingError, Snapshot, Snapshots
from lanner.errors import NotLeaderError
from lanner.store import (
    ExecutionStep,
    ExecutorEvent,
    Fence,
    Job,
    JobClaim,
    Store,
)

log = logging.getLogger("lanner.engine")

EVENT_BATCH = 200
"""Events read per batch. Each execution's step may chain up to ``inline.BUDGET`` pure jobs,
so a full batch is a large transaction; a few hundred keeps group commit while executions
decided together (and ending together) stay a small share of a backlog (fair progress)."""
SAFETY_POLL_S = 5.0
EXPIRY_SCAN_S = 5.0
"""At most this long between two lease checks (leases taken since the last one)."""


EXPIRY_MARGIN = timedelta(milliseconds=20)


class LocalWorker(Protocol):
    """A worker in this process that takes jobs straight from the loop's writes."""

    worker_id: str
    lease_s: float

    def reserve_slots(self) -> int:
        """Free slots now set aside for the jobs of the next write (released by hand_over)."""
        ...

    def hand_over(self, reserved: int, jobs: Sequence[Job]) -> None:
        """Start ``jobs`` (claimed for this worker) and release ``reserved`` slots."""
        ...


class ExecutorLoop:
    """Advances executions from their events; one instance per process."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        snapshots: Snapshots,
        *,
        clock: Callable[[], datetime] = utc_now,
        batch_size: int = EVENT_BATCH,
        log_writer: LogWriter | None = None,
        results: LocalResults | None = None,
        watch: Callable[[StateType], bool] | None = None,
        fence: Callable[[], Fence | None] | None = None,
        expiry_scan_s: float = EXPIRY_SCAN_S,
    ) -> None:
        self._store = store
        self._fence = fence
        self._expiry_scan_s = expiry_scan_s
        self._next_expiry_check: datetime | None = None  # None: check now
        self._feed = feed
        self._snapshots = snapshots
        # Concurrency counts, new-execution retries, transitions for Flow triggers (``watch``).
        self._decisions = Decisions(store, feed, watch)
        self._clock = clock
        self._batch_size = batch_size
        self._stopping = asyncio.Event()
        self.steps_applied = 0
        self._timers_dirty = True
        self._next_timer: datetime | None = None
        self._log_writer = log_writer
        self._lines: list[LogEntry] = []  # engine log lines of the batch being decided
        self._worker: LocalWorker | None = None
        self._inline: JobRunner | None = None  # runs pure jobs in the step (engine/inline.py)
        self._runner_id = "executor"  # the attempts of inlined jobs name it
        self.jobs_inlined = 0
        self.executions_admitted = 0  # new executions whose row a step inserted
        self.batches_applied = 0
        self._ended: dict[str, Snapshot] = {}  # ended in the batch being decided, awaited
        # Task results handed over by a worker in this process (none without one).
        self.results = results or LocalResults(StoredResults(store, feed), clock=clock)
        self._is_store_dirty = True  # events may wait in the store: read them

    def attach(
        self,
        worker: LocalWorker | None,
        inline: JobRunner | None = None,
        *,
        runner_id: str = "executor",
    ) -> None:
        """Hand new jobs straight to ``worker`` (in this process) when it has free slots;
        with ``inline`` (that worker's runner, or the executor's own when no worker runs in
        this process: attempts then name ``runner_id``), run pure jobs in the step itself."""
        self._worker = worker
        self._inline = inline
        self._runner_id = worker.worker_id if worker is not None else runner_id

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Process events until :meth:`stop`; then hand unprocessed results to the store.
        Ends early with :class:`NotLeaderError` (fenced out) or
        :class:`~lanner.engine.resilience.StoreLostError` (the outage lasted too long)."""
        backoff = Backoff("executor loop")
        self.results.start_admitting()
        try:
            await self._run(backoff)
        finally:
            self.results.stop_admitting()
            await self.results.hand_back()

    async def _expire_leases(self, now: datetime) -> None:
        """End the run-out leases of other workers' jobs; note when to look again."""
        spare = self._worker.worker_id if self._worker is not None else None
        expired = await self._store.expire_jobs(now, spare)
        if expired.lost or expired.requeued:
            log.warning(
                "leases ran out: %d task attempts lost with their worker, %d jobs queued again",
                expired.lost,
                expired.requeued,
            )
            self._is_store_dirty = True
            self._feed.publish(WORK_TOPIC, JOBS_TOPIC)
        check = now + timedelta(seconds=self._expiry_scan_s)
        if expired.next_expiry is not None:
            # Just past it: a lease ends when ``lease_expires_at < now``.
            check = min(check, expired.next_expiry + EXPIRY_MARGIN)
        self._next_expiry_check = check

    async def _run(self, backoff: Backoff) -> None:
        with self._feed.subscribe(WORK_TOPIC) as wake:
            while not self._stopping.is_set():
                try:
                    now = self._clock()
                    if self._next_expiry_check is None or now >= self._next_expiry_check:
                        await self._expire_leases(now)
                    events: list[ExecutorEvent] = []
                    if self._is_store_dirty:
                        self._is_store_dirty = False
                        events = await self._store.due_events(now, self._batch_size)
                        # A full batch: more are waiting; otherwise a publish wakes us.
                        self._is_store_dirty = len(events) >= self._batch_size
                    events.extend(self.results.take())
                    admissions = self.results.take_admissions()
                    if events or admissions:
                        await self.process(events, admissions)
                        backoff.succeeded()
                        continue
                    if self._timers_dirty:
                        self._timers_dirty = False
                        self._next_timer = await self._store.next_event_time()
                    backoff.succeeded()
                    delay_s = SAFETY_POLL_S
                    if self._next_timer is not None:
                        due_in = (self._next_timer - self._clock()).total_seconds()
                        delay_s = min(delay_s, max(due_in, 0.0))
                    if self._next_expiry_check is not None:
                        due_in = (self._next_expiry_check - self._clock()).total_seconds()
                        delay_s = min(delay_s, max(due_in, 0.0))
                    woken = await self._wait(wake, delay_s) if delay_s > 0 else None
                    if woken is not False:
                        # A timer (or the safety poll) is due, or a publish may have come with
                        # a delayed event (an execution created with a future ``scheduleDate``).
                        self._timers_dirty = True
                    self._is_store_dirty = self._is_store_dirty or woken is not False
                except (asyncio.CancelledError, NotLeaderError, StoreLostError):
                    raise
                except Exception as error:
                    self._is_store_dirty = True
                    self._timers_dirty = True
                    # New executions do not wait out the outage here: their submitters try.
                    refuse(self.results.take_admissions())
                    await backoff.pause(error)

    async def _wait(self, wake: Subscription, delay_s: float) -> bool | None:
        """True when woken by a publish (or a stop), False by a result handed over, None
        when ``delay_s`` elapsed. Returns at once when a publish or a result is pending."""
        if self.results.has_pending:
            return False
        stop = asyncio.ensure_future(self._stopping.wait())
        woken = asyncio.ensure_future(wake.wait(delay_s))
        offered = asyncio.ensure_future(self.results.wait())
        try:
            await asyncio.wait({stop, woken, offered}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            woken.cancel()
            offered.cancel()
        if stop.done() or (woken.done() and not woken.cancelled() and woken.result()):
            return True
        return False if offered.done() else None

    async def process(
        self, events: list[ExecutorEvent], admissions: Sequence[Admission] = ()
    ) -> list[ExecutionStep]:
        """Decide for every execution with due events (then for every new execution
        ``admissions`` hand over) and apply all steps at once."""
        by_execution: dict[str, list[ExecutorEvent]] = {}
        for event in events:
            by_execution.setdefault(event.execution_id, []).append(event)
        now = self._clock()
        admitted: dict[str, Admission] = {}
        try:
            await self._admit(admissions, by_execution, admitted, now)
        except BaseException:
            refuse(admissions)
            raise
        steps: list[ExecutionStep] = []
        self._lines = []
        self._ended = {}
        await self._snapshots.preload(
            {
                execution_id: batch[0].tenant_id
                for execution_id, batch in by_execution.items()
                if self._snapshots.cached(execution_id) is None
            }
        )
        inlined = 0
        try:
            for execution_id, batch in by_execution.items():
                step = await self._decide(execution_id, batch, now)
                if execution_id in admitted and (step is None or step.execution is None):
                    # Its row would not be written: it goes the usual way (``created`` event).
                    self._snapshots.drop(execution_id)
                    refuse([admitted.pop(execution_id)])
                    continue
                if step is not None:
                    if self._inline is not None and step.jobs:
                        step, count = await self._run_inline(self._inline, step, batch[0].tenant_id)
                        inlined += count
                    steps.append(step)
        except BaseException:
            for execution_id in admitted:
                self._snapshots.drop(execution_id)
            refuse(list(admitted.values()))
            raise
        # Inlined tasks' lines (and the engine's, to keep their order) are stored with the
        # steps, after every line written before them.
        step_lines: list[LogEntry] = []
        if inlined:
            step_lines, self._lines = self._lines, []
            if self._log_writer is not None:
                await self._log_writer.flush()
        self.jobs_inlined += inlined
        worker = self._worker
        reserved = worker.reserve_slots() if worker is not None else 0
        claim = (
            JobClaim(worker.worker_id, reserved, worker.lease_s) if worker and reserved else None
        )
        claimed: list[Job] = []
        try:
            fence = self._fence() if self._fence is not None else None  # NotLeaderError
            claimed = await self._store.apply_steps(
                steps, claim=claim, logs=step_lines, fence=fence
            )
        except BaseException as error:
            for step in steps:  # the in-memory snapshots ran ahead of the store
                self._snapshots.drop(step.execution_id)
            refuse(list(admitted.values()))  # their submitters store them
            if isinstance(error, Exception):
                await self.results.give_back([e for e in events if e.job_id is not None], error)
            raise
        finally:
            if worker is not None:
                worker.hand_over(reserved, claimed)
        settle(list(admitted.values()), True)
        self.executions_admitted += len(admitted)
        self.batches_applied += 1
        for snapshot in self._ended.values():
            self._feed.ends.put(snapshot.execution, list(snapshot.runs))
        self._ended = {}
        self.steps_applied += len(steps)
        if self._worker is None and self._inline is not None and self._inline.metrics:
            await self._store.add_metrics(self._inline.take_metrics())  # no worker flushes them
        if self._log_writer is not None:
            self._log_writer.write(self._lines)
        self._announce(steps, len(claimed))
        if step_lines:
            self._feed.publish(*{logs_topic(e.execution_id) for e in step_lines if e.execution_id})
        return steps

    async def _decide(
        self, execution_id: str, events: list[ExecutorEvent], now: datetime
    ) -> ExecutionStep | None:
        try:
            snapshot = await self._snapshots.get(execution_id, events[0].tenant_id)
        except FlowMissingError as error:
            log.error("execution %s cannot run: %s", execution_id, error)
            return await self._fail(execution_id, events, now)
        if snapshot is None:  # deleted: drop its events
            return ended_by(execution_id, events)
        before = snapshot.execution
        try:
            step = await self._decisions.decide(snapshot, events, now)
        except Exception:
            log.exception("decision failed for execution %s", execution_id)
            self._snapshots.drop(execution_id)
            return await self._fail(execution_id, events, now)
        if step.execution is not None:
            snapshot.execution = step.execution
        self._lines.extend(execution_lines(before, step.execution, step.task_runs, now))
        if snapshot.execution.state.is_terminated:
            self._snapshots.drop(execution_id)
            if self._feed.ends.is_awaited(execution_id):
                self._ended[execution_id] = snapshot  # for its waiter, once committed
        else:
            self._ended.pop(execution_id, None)
        return step

    async def _admit(
        self,
        admissions: Sequence[Admission],
        by_execution: dict[str, list[ExecutorEvent]],
        admitted: dict[str, Admission],
        now: datetime,
    ) -> None:
        """Seed the snapshots of new executions and give each its ``created`` event (no row:
        the step inserts the execution); an unusable one is refused (stored the usual way)."""
        for admission in admissions:
            execution = admission.execution
            flow = await self._snapshots.flows.get(
                execution.tenant_id, execution.namespace, execution.flow_id,
                execution.flow_revision,
            )  # fmt: skip
            known = execution.id in by_execution or execution.id in admitted
            if flow is None or known or self._snapshots.cached(execution.id) is not None:
                refuse([admission])
                continue
            self._snapshots.keep(Snapshot(execution, RunIndex(), flow))
            by_execution[execution.id] = [
                ExecutorEvent(
                    id=None, execution_id=execution.id, kind=CREATED, payload={},
                    available_at=now, tenant_id=execution.tenant_id,
                )
            ]  # fmt: skip
            admitted[execution.id] = admission

    async def _run_inline(
        self, runner: JobRunner, step: ExecutionStep, tenant_id: str
    ) -> tuple[ExecutionStep, int]:
        """``step`` followed by the decisions on the results of its pure jobs, run here and
        now, as long as they create more (up to :data:`BUDGET` jobs)."""
        execution_id = step.execution_id
        merged, last, count = step, step, 0
        worker_id = self._runner_id
        while count < BUDGET:
            snapshot = self._snapshots.cached(execution_id)
            if snapshot is None or snapshot.execution.state.current is StateType.KILLING:
                break
            pure = [job for job in last.jobs if can_inline(job, snapshot)][: BUDGET - count]
            if not pure:
                break
            results: list[ExecutorEvent] = []
            for new in pure:
                job = Job(
                    f"inline-{new.task_run_id}", tenant_id, execution_id, new.task_run_id,
                    new.kind, new.payload, attempts=1, worker_id=worker_id,
                )  # fmt: skip
                event, logs = await runner.run(job, snapshot, worker_id, stream_logs=False)
                self._lines.extend(logs)  # after the engine's lines of the step so far
                if event is not None:
                    results.append(
                        ExecutorEvent(
                            id=None, execution_id=execution_id, kind=event.kind,
                            payload=round_trip(event.payload), available_at=self._clock(),
                            tenant_id=tenant_id,
                        )
                    )  # fmt: skip
            count += len(pure)
            if not results:
                merged = merge(merged, ExecutionStep(execution_id), pure)
                break
            then = await self._decide(execution_id, results, self._clock())
            merged = merge(merged, then or ExecutionStep(execution_id), pure)
            if then is None or any(_failed(event) for event in results):
                # After a failure the next tasks (an errors branch) may read its error lines
                # (``errorLogs()``): they run once those are committed.
                break
            last = then
        return merged, count

    async def _fail(
        self, execution_id: str, events: list[ExecutorEvent], now: datetime
    ) -> ExecutionStep:
        """Ends ``events`` and fails the execution (unless it ended already)."""
        ending = ended_by(execution_id, events)
        tenant_id = events[0].tenant_id
        snapshot: Snapshot | None = self._snapshots.cached(execution_id)
        execution = snapshot.execution if snapshot is not None else None
        if execution is None:
            execution = await self._store.get_execution(tenant_id, execution_id)
        self._snapshots.drop(execution_id)
        if execution is None or execution.state.is_terminated:
            return ending
        if execution.state.current is StateType.PAUSED:
            execution = execution.with_state(StateType.RUNNING, now)
        failed = replace(execution, state=execution.state.to(StateType.FAILED, now))
        self._lines.extend(execution_lines(execution, failed, (), now))
        return self._decisions.with_transition(replace(ending, execution=failed), now)

    def _announce(self, steps: list[ExecutionStep], claimed: int = 0) -> None:
        topics: list[str] = []
        has_work = False
        jobs = 0
        for step in steps:
            if step.transitions:
                topics.append(FLOW_TRIGGERS_TOPIC)
            for event in step.events:
                if event.available_at is not None:
                    self._timers_dirty = True
            jobs += len(step.jobs)
            if step.execution is not None or step.task_runs:
                topics.append(execution_topic(step.execution_id))
            if step.execution is not None and step.execution.state.current is StateType.KILLING:
                topics.append(kill_topic(step.execution_id))
            # Jobs wake workers only; timers are tracked here; immediate events wake the loop.
            has_work = has_work or any(event.available_at is None for event in step.events)
        if has_work:
            topics.append(WORK_TOPIC)
        if jobs > claimed:  # some wait in the queue
            topics.append(JOBS_TOPIC)
        self._feed.publish(*topics)


def _failed(event: ExecutorEvent) -> bool:
    payload = event.payload
    return payload.get("state") == StateType.FAILED.value or payload.get("error") is not None


def ended_by(execution_id: str, events: Sequence[ExecutorEvent]) -> ExecutionStep:
    """A step that only ends ``events``: deletes the stored ones, ends the jobs of results."""
    return ExecutionStep(
        execution_id,
        consumed_events=tuple(event.id for event in events if event.id is not None),
        finished_jobs=tuple(event.job_id for event in events if event.job_id is not None),
    )
