"""The scheduler role: evaluates ``Schedule`` and ``ScheduleOnDates`` triggers and starts their
executions through :class:`~lanner.engine.submit.Submitter`.

At most one scheduler evaluates at a time: it holds the store's expiring ``scheduler`` lease
(renewed every third of :data:`LEASE_TTL_S`); others stand by and take over once it is released
or expired. Each term starts from the store: the flows with schedule triggers, their state rows
(created for new triggers), ``recoverMissedSchedules`` applied. Then each pass decides every
trigger (:func:`~lanner.engine.schedules.decide`, pure) and does the I/O around it: it submits
the tick's execution and writes the new state (compare-and-set). A tick's execution id derives
from the trigger and the tick (:func:`~lanner.engine.schedules.tick_execution_id`) and a submit
with an id that exists returns that execution: two schedulers in a lease hand-over, or one
that died between the submit and the state write, still make one execution per tick.

The loop sleeps until the next due date; it wakes early when an execution a trigger waits on
changes (its ``execution:<id>`` topic), when the API changed a trigger (:data:`TRIGGERS_TOPIC`)
or every :data:`FLOW_CHECK_S` to compare the flows' fingerprint (a deploy, an update, a delete),
re-reading the flows only when it changed. Imports the domain, the store protocols and this
package.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from lanner.domain.executions import ExecutionTrigger
from lanner.domain.labels import Label
from lanner.domain.times import utc_now
from lanner.engine.conditions import ConditionContext, conditions_hold
from lanner.engine.feeds import ChangeFeed, Subscription, execution_topic
from lanner.engine.resilience import Backoff, StoreLostError, watch
from lanner.engine.schedules import (
    ON_DATES_TYPE,
    SCHEDULE_TYPES,
    Lock,
    ScheduleSpec,
    ScheduleSpecError,
    Tick,
    decide,
    new_state,
    recover_missed,
    schedule_spec,
    tick_execution_id,
)
from lanner.engine.submit import Submitter, parsed_flow
from lanner.errors import ConcurrentUpdateError, ConflictError, NotFoundError, ValidationError
from lanner.store import Store, StoredFlow, TriggerState

log = logging.getLogger("lanner.scheduler")

LEASE_NAME = "scheduler"
LEASE_TTL_S = 10.0
STANDBY_RETRY_S = 1.0
FLOW_CHECK_S = 1.0
TRIGGERS_TOPIC = "triggers:changed"
"""Published by the API when it changed a trigger's state (enable, backfill, unlock...)."""

Key = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class Scheduled:
    """One schedule trigger of a stored flow revision."""

    flow: StoredFlow
    spec: ScheduleSpec


def flow_vars(stored: StoredFlow) -> dict[str, Any]:
    return {
        "id": stored.id,
        "namespace": stored.namespace,
        "revision": stored.revision,
        "tenantId": stored.tenant_id,
    }


def scheduled_triggers(stored: StoredFlow) -> list[Scheduled]:
    """The flow's schedule triggers that can be scheduled (a bad one is logged and left out)."""
    try:
        flow = parsed_flow(stored.source)
    except Exception as error:  # a stored flow that no longer parses schedules nothing
        log.warning("flow %s.%s: %s", stored.namespace, stored.id, error)
        return []
    found = []
    for trigger in flow.triggers:
        if trigger.type not in SCHEDULE_TYPES:
            continue
        try:
            found.append(Scheduled(stored, schedule_spec(trigger)))
        except ScheduleSpecError as error:
            log.warning("flow %s.%s: %s", stored.namespace, stored.id, error)
    return found


class Scheduler:
    """The scheduler loop; ``start()`` it on the event loop that runs it, ``stop()`` it."""

    def __init__(
        self,
        store: Store,
        submitter: Submitter,
        feed: ChangeFeed,
        *,
        holder: str,
        clock: Callable[[], datetime] = utc_now,
        lease_ttl_s: float = LEASE_TTL_S,
        flow_check_s: float = FLOW_CHECK_S,
    ) -> None:
        self.store = store
        self.submitter = submitter
        self.feed = feed
        self.holder = holder
        self._clock = clock
        self._lease_ttl = timedelta(seconds=lease_ttl_s)
        self._flow_check_s = flow_check_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._watched: dict[str, tuple[Subscription, asyncio.Task[None]]] = {}
        self._scheduled: dict[Key, Scheduled] = {}
        self._flows_version: tuple[int, datetime | None] | None = None
        self.is_leader = False

    async def start(self) -> None:
        self._task = watch(asyncio.create_task(self._run(), name="lanner-scheduler"))
        log.info("scheduler %s started: waiting for the lease", self.holder)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            _, pending = await asyncio.wait({task}, timeout=5.0)
            for late in pending:
                late.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._unwatch_all()
        try:
            await self.store.release_lease(LEASE_NAME, self.holder)
        except Exception as error:  # the store may be closing: the lease expires anyway
            log.warning("releasing the scheduler lease: %s", error)

    # --- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = Backoff(f"scheduler {self.holder}")
        with self.feed.subscribe(TRIGGERS_TOPIC) as changes:
            waker = asyncio.create_task(self._forward(changes))
            try:
                while not self._stopping:
                    try:
                        if await self._acquire():
                            backoff.succeeded()
                            await self._term()
                        else:
                            backoff.succeeded()
                            await self._sleep(STANDBY_RETRY_S)
                    except (asyncio.CancelledError, StoreLostError):
                        raise
                    except Exception as error:
                        self.is_leader = False
                        await backoff.pause(error)
            finally:
                waker.cancel()
                await asyncio.gather(waker, return_exceptions=True)

    async def _forward(self, subscription: Subscription) -> None:
        while True:
            await subscription.wait()
            self._wake.set()

    async def _acquire(self) -> bool:
        return await self.store.acquire_lease(LEASE_NAME, self.holder, self._lease_ttl)

    async def _term(self) -> None:
        """Evaluate while the lease is held; return when it is lost or on stop."""
        self.is_leader = True
        log.info("scheduler %s holds the lease: evaluating triggers", self.holder)
        self._flows_version = None
        self._scheduled = {}
        renew_every = self._lease_ttl.total_seconds() / 3
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + renew_every
        first = True
        try:
            while not self._stopping:
                if loop.time() >= renew_at:
                    if not await self._acquire():
                        log.error("scheduler %s lost the lease: standing by", self.holder)
                        return
                    renew_at = loop.time() + renew_every
                self._wake.clear()
                await self._sync_flows()
                wake_at = await self.evaluate(recover=first)
                first = False
                delay = min(renew_at - loop.time(), self._flow_check_s)
                if wake_at is not None:
                    delay = min(delay, (wake_at - self._clock()).total_seconds())
                await self._sleep(max(delay, 0.0))
        finally:
            self.is_leader = False
            self._unwatch_all()

    async def _sleep(self, delay_s: float) -> None:
        try:
            async with asyncio.timeout(delay_s):
                await self._wake.wait()
        except TimeoutError:
            pass

    # --- flows -----------------------------------------------------------------------------

    async def _sync_flows(self) -> None:
        version = await self.store.flows_version()
        if version == self._flows_version:
            return
        self._flows_version = version
        previous = self._scheduled
        current: dict[Key, Scheduled] = {}
        for stored in await self.store.list_scheduled_flows():
            for item in scheduled_triggers(stored):
                key = (stored.tenant_id, stored.namespace, stored.id, item.spec.trigger_id)
                current[key] = item
        self._scheduled = current
        if not previous:
            return
        for key, before in previous.items():
            after = current.get(key)
            if after is None:  # the flow was deleted or the trigger removed: its state goes
                await self.store.delete_trigger(*key)
            elif after.spec != before.spec:  # redefined: it starts again from now
                state = await self.store.get_trigger(*key)
                if state is not None:
                    fresh = new_state(after.spec, *key[:3], self._clock())
                    reset = replace(
                        fresh, disabled=state.disabled, flow_revision=after.flow.revision
                    )
                    await self._save(reset, state.revision)

    # --- one pass --------------------------------------------------------------------------

    async def evaluate(self, *, recover: bool = False) -> datetime | None:
        """Decide every scheduled trigger once; the earliest date to look again."""
        now = self._clock()
        states = {state.key: state for state in await self.store.list_triggers()}
        wake_at: datetime | None = None
        locked: set[str] = set()
        for key, item in self._scheduled.items():
            if item.flow.disabled:
                continue
            state = states.get(key)
            if state is None:
                state = new_state(item.spec, *key[:3], now)
                state = replace(state, flow_revision=item.flow.revision)
                saved = await self._save(state, None)
                if saved is None:
                    continue
                state = saved
            elif recover:
                recovered = recover_missed(item.spec, state, now)
                if recovered != state:
                    saved = await self._save(recovered, state.revision)
                    if saved is None:
                        continue
                    state = saved
            due, after = await self._step(item, state, now)
            if due is not None:
                wake_at = due if wake_at is None else min(wake_at, due)
            if after.execution_id is not None:
                locked.add(after.execution_id)
        self._keep_watching(locked)
        return wake_at

    async def _step(
        self, item: Scheduled, state: TriggerState, now: datetime
    ) -> tuple[datetime | None, TriggerState]:
        """Decide and apply one trigger's next step; its wake-up date and its state."""
        lock, ended_as = Lock.NONE, None
        if state.execution_id is not None:
            self._watch(state.execution_id)
            execution = await self.store.get_execution(state.tenant_id, state.execution_id)
            if execution is not None and not execution.state.current.is_terminated:
                lock = Lock.RUNNING
            else:
                lock = Lock.ENDED
                ended_as = None if execution is None else execution.state.current
        spec = item.spec
        if spec.conditions:
            flow = parsed_flow(item.flow.source)

            def holds(tick: Tick) -> bool:
                context = ConditionContext(
                    flow=flow,
                    now=tick.date,
                    render=self._render,
                    variables=self._context(item, tick),
                )
                return conditions_hold(spec.conditions, context)

            # Conditions may call server functions (secret(), kv()) that wait on the loop.
            decision = await asyncio.to_thread(
                decide, spec, state, now, lock=lock, ended_as=ended_as, holds=holds
            )
        else:
            decision = decide(spec, state, now, lock=lock, ended_as=ended_as)
        new = decision.state
        if decision.fire is not None:
            execution_id = await self._fire(item, state, decision.fire)
            new = replace(new, execution_id=execution_id)
        if new != state:
            await self._save(new, state.revision)
        if new.execution_id is not None:
            self._watch(new.execution_id)
        return decision.wake_at, new

    async def _fire(self, item: Scheduled, state: TriggerState, tick: Tick) -> str | None:
        """Submit the tick's execution; its id (None when the flow cannot run it)."""
        spec, stored = item.spec, item.flow
        variables = {} if spec.type == ON_DATES_TYPE else tick.variables(spec.zone)
        context = self._context(item, tick)
        inputs: dict[str, Any] = {}
        labels = list(spec.labels)
        try:
            inputs.update(await self._rendered(spec.inputs, context))
            if tick.backfill is not None:
                inputs.update(await self._rendered(tick.backfill.inputs, context))
                for label in tick.backfill.labels:
                    labels.append(Label(label.key, str(await self._rendered(label.value, context))))
            execution = await self.submitter.submit(
                stored,
                inputs,
                labels=labels,
                trigger=ExecutionTrigger(id=spec.trigger_id, type=spec.type, variables=variables),
                schedule_date=tick.date if spec.type == ON_DATES_TYPE else None,
                execution_id=tick_execution_id(state, tick),
            )
        except (NotFoundError, ConflictError, ValidationError, ValueError) as error:
            log.error(
                "trigger %s.%s.%s: tick %s not started: %s",
                state.namespace, state.flow_id, state.trigger_id, tick.date.isoformat(), error,
            )  # fmt: skip
            return None
        log.info(
            "trigger %s.%s.%s: tick %s started execution %s",
            state.namespace, state.flow_id, state.trigger_id, tick.date.isoformat(), execution.id,
        )  # fmt: skip
        return execution.id

    def _context(self, item: Scheduled, tick: Tick) -> dict[str, Any]:
        return {"flow": flow_vars(item.flow), "trigger": tick.variables(item.spec.zone)}

    def _render(self, template: str, context: Mapping[str, Any]) -> Any:
        if "{{" not in template and "{%" not in template:
            return template
        return self.submitter.inputs.render(template, context)

    async def _rendered(self, value: Any, context: Mapping[str, Any]) -> Any:
        if isinstance(value, str):
            if "{{" not in value and "{%" not in value:
                return value
            return await asyncio.to_thread(self._render, value, context)
        if isinstance(value, Mapping):
            return {str(k): await self._rendered(v, context) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [await self._rendered(v, context) for v in value]
        return value

    async def _save(self, state: TriggerState, expected: int | None) -> TriggerState | None:
        try:
            return await self.store.save_trigger(state, expected_revision=expected)
        except ConcurrentUpdateError:
            self._wake.set()  # changed by the API meanwhile: decide again on the new row
            return None

    # --- wake-ups on execution ends ----------------------------------------------------------

    def _watch(self, execution_id: str) -> None:
        if execution_id in self._watched:
            return
        subscription = self.feed.subscribe(execution_topic(execution_id))

        async def forward() -> None:
            while True:
                await subscription.wait()
                self._wake.set()

        self._watched[execution_id] = (subscription, asyncio.create_task(forward()))

    def _keep_watching(self, execution_ids: set[str]) -> None:
        for execution_id in list(self._watched):
            if execution_id not in execution_ids:
                subscription, task = self._watched.pop(execution_id)
                subscription.close()
                task.cancel()

    def _unwatch_all(self) -> None:
        self._keep_watching(set())
