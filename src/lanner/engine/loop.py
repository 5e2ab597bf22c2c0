"""The executor loop: due events in batches → ``decide`` per execution → one ``apply_steps``.

Wakes on ``WORK_TOPIC`` and when the next timer is due (no polling delay; a slow safety poll
covers wake-ups lost between processes). Every batch is one transaction (group commit); after
it, each changed execution's topic is published (the API waits on those), ``kill:<id>`` for
executions entering KILLING (workers interrupt their tasks) and ``WORK_TOPIC`` when jobs or
events were added. Events persist until a step consumes them, so after a crash the next start
simply picks them up again. Imports the store protocols, the feed and this package.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from lanner.domain.states import StateType
from lanner.engine.events import JOBS_TOPIC, kill_topic
from lanner.engine.executor import decide
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed, Subscription, execution_topic
from lanner.engine.snapshots import FlowMissingError, Snapshot, Snapshots
from lanner.store import ExecutionStep, ExecutorEvent, Store

log = logging.getLogger("lanner.engine")

EVENT_BATCH = 500
SAFETY_POLL_S = 5.0
REQUEUE_EVERY_S = 15.0


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    ) -> None:
        self._store = store
        self._feed = feed
        self._snapshots = snapshots
        self._clock = clock
        self._batch_size = batch_size
        self._stopping = asyncio.Event()
        self.steps_applied = 0
        self._timers_dirty = True
        self._next_timer: datetime | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Process events until :meth:`stop`."""
        last_requeue = self._clock()
        with self._feed.subscribe(WORK_TOPIC) as wake:
            while not self._stopping.is_set():
                try:
                    now = self._clock()
                    if (now - last_requeue).total_seconds() >= REQUEUE_EVERY_S:
                        last_requeue = now
                        if await self._store.requeue_jobs(now):  # a dead worker's jobs
                            self._feed.publish(WORK_TOPIC, JOBS_TOPIC)
                    events = await self._store.due_events(now, self._batch_size)
                    if events:
                        await self.process(events)
                        if len(events) >= self._batch_size:
                            continue  # more are waiting; otherwise a publish wakes us
                    if self._timers_dirty:
                        self._timers_dirty = False
                        self._next_timer = await self._store.next_event_time()
                    delay_s = SAFETY_POLL_S
                    if self._next_timer is not None:
                        due_in = (self._next_timer - self._clock()).total_seconds()
                        delay_s = min(delay_s, max(due_in, 0.0))
                    if delay_s <= 0 or not await self._wait(wake, delay_s):
                        self._timers_dirty = True  # a timer (or the safety poll) is due
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("executor loop iteration failed")
                    await self._wait(wake, 1.0)

    async def _wait(self, wake: Subscription, delay_s: float) -> bool:
        """True when woken by a publish (or a stop), False when ``delay_s`` elapsed."""
        stop = asyncio.ensure_future(self._stopping.wait())
        woken = asyncio.ensure_future(wake.wait(delay_s))
        try:
            await asyncio.wait({stop, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            woken.cancel()
        return stop.done() or (woken.done() and not woken.cancelled() and woken.result())

    async def process(self, events: list[ExecutorEvent]) -> list[ExecutionStep]:
        """Decide for every execution with due events and apply all steps at once."""
        by_execution: dict[str, list[ExecutorEvent]] = {}
        for event in events:
            by_execution.setdefault(event.execution_id, []).append(event)
        now = self._clock()
        steps: list[ExecutionStep] = []
        for execution_id, batch in by_execution.items():
            step = await self._decide(execution_id, batch, now)
            if step is not None:
                steps.append(step)
        try:
            await self._store.apply_steps(steps)
        except Exception:
            for step in steps:  # the in-memory snapshots ran ahead of the store
                self._snapshots.drop(step.execution_id)
            raise
        self.steps_applied += len(steps)
        self._announce(steps)
        return steps

    async def _decide(
        self, execution_id: str, events: list[ExecutorEvent], now: datetime
    ) -> ExecutionStep | None:
        consumed = tuple(event.id for event in events)
        try:
            snapshot = await self._snapshots.get(execution_id, events[0].tenant_id)
        except FlowMissingError as error:
            log.error("execution %s cannot run: %s", execution_id, error)
            return await self._fail(execution_id, events[0].tenant_id, consumed, now)
        if snapshot is None:  # deleted: drop its events
            return ExecutionStep(execution_id, consumed_events=consumed)
        try:
            step = decide(snapshot.flow, snapshot.execution, snapshot.runs, events, now)
        except Exception:
            log.exception("decision failed for execution %s", execution_id)
            self._snapshots.drop(execution_id)
            return await self._fail(execution_id, events[0].tenant_id, consumed, now)
        if step.execution is not None:
            snapshot.execution = step.execution
        if snapshot.execution.state.is_terminated:
            self._snapshots.drop(execution_id)
        return step

    async def _fail(
        self, execution_id: str, tenant_id: str, consumed: tuple[int, ...], now: datetime
    ) -> ExecutionStep:
        snapshot: Snapshot | None = self._snapshots.cached(execution_id)
        execution = snapshot.execution if snapshot is not None else None
        if execution is None:
            execution = await self._store.get_execution(tenant_id, execution_id)
        self._snapshots.drop(execution_id)
        if execution is None or execution.state.is_terminated:
            return ExecutionStep(execution_id, consumed_events=consumed)
        if execution.state.current is StateType.PAUSED:
            execution = execution.with_state(StateType.RUNNING, now)
        failed = replace(execution, state=execution.state.to(StateType.FAILED, now))
        return ExecutionStep(execution_id, execution=failed, consumed_events=consumed)

    def _announce(self, steps: list[ExecutionStep]) -> None:
        topics: list[str] = []
        has_work = has_jobs = False
        for step in steps:
            for event in step.events:
                if event.available_at is not None:
                    self._timers_dirty = True
            has_jobs = has_jobs or bool(step.jobs)
            if step.execution is not None or step.task_runs:
                topics.append(execution_topic(step.execution_id))
            if step.execution is not None and step.execution.state.current is StateType.KILLING:
                topics.append(kill_topic(step.execution_id))
            # Jobs wake workers only; timers are tracked here; immediate events wake the loop.
            has_work = has_work or any(event.available_at is None for event in step.events)
        if has_work:
            topics.append(WORK_TOPIC)
        if has_jobs:
            topics.append(JOBS_TOPIC)
        self._feed.publish(*topics)
