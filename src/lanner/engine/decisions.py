"""The executor loop's I/O around the pure ``decide``: what a decision needs from the store, and
what a step cannot write itself.

- Flow ``concurrency``: before deciding on a CREATED or QUEUED execution of a flow with a limit,
  count the slots taken before it (one ``live_executions`` read per flow and batch, then a
  :class:`~lanner.engine.concurrency.SlotTally` follows the batch's own decisions, which are not
  committed yet). When an execution holding a slot ends, its step also carries ``slot_freed``
  events for the oldest queued executions of the flow, so they start in the same transaction's
  wake of it (a crash cannot lose the wake-up).
- Flow triggers: a change to a state ``watch`` names (every terminal one, the others some
  trigger listens to) carries a ``Transition`` in its step, so the flow-trigger role sees it
  exactly when the change is committed.
- ``CREATE_NEW_EXECUTION`` retries: a step's ``retry_execution`` event becomes the new execution
  (created before the step is applied; its id is stable, so a step decided again after a failed
  write does not create it twice).

One instance per executor loop; a batch is recognised by the ``now`` the loop decides it with.
Imports the domain, the store *protocols* and this package; never a driver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.concurrency import WAITING, SlotTally
from lanner.engine.executor import decide
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed
from lanner.engine.retries import retry_execution
from lanner.engine.snapshots import Snapshot
from lanner.errors import ConflictError
from lanner.store import ExecutionStep, ExecutorEvent, NewEvent, Store, Transition

S = StateType
FlowKey = tuple[str, str, str]


class Decisions:
    """``decide`` for the executor loop, with the store reads and writes it cannot do."""

    def __init__(
        self, store: Store, feed: ChangeFeed, watch: Callable[[StateType], bool] | None = None
    ) -> None:
        self._store = store
        self._feed = feed
        self._watch = watch
        self._batch: datetime | None = None
        self._tallies: dict[FlowKey, SlotTally] = {}

    async def decide(
        self, snapshot: Snapshot, events: Sequence[ExecutorEvent], now: datetime
    ) -> ExecutionStep:
        """The step for ``snapshot``'s execution; ``now`` identifies the loop's batch."""
        if now != self._batch:  # a new batch: the previous one's steps are committed
            self._batch = now
            self._tallies.clear()
        flow, before = snapshot.flow, snapshot.execution
        limit = flow.concurrency
        taken: int | None = None
        if limit is not None and before.state.current in WAITING:
            taken = (await self._tally(snapshot)).taken_before(before.id)
        step = decide(flow, before, snapshot.runs, events, now, slots_taken=taken)
        after = step.execution.state.current if step.execution is not None else None
        if limit is not None and after is not None and after is not before.state.current:
            tally = await self._tally(snapshot)
            tally.note(before.id, before.state.start_date, after)
            holds_slot = before.state.current not in WAITING and not before.state.is_terminated
            if holds_slot and after.is_terminated:
                wake = [
                    NewEvent(queued, ev.SLOT_FREED) for queued in tally.next_queued(limit.limit)
                ]
                step = replace(step, events=(*step.events, *wake))
        if after is not None and after is not before.state.current:
            step = self.with_transition(step, now)
        if any(event.kind == ev.RETRY_EXECUTION for event in step.events):
            step = await self._create_retries(snapshot, step, now)
        return step

    def with_transition(self, step: ExecutionStep, now: datetime) -> ExecutionStep:
        """``step`` with the transition of its new state when Flow triggers watch it."""
        execution = step.execution
        if self._watch is None or execution is None or not self._watch(execution.state.current):
            return step
        transition = Transition(
            execution.tenant_id, execution.id, execution.namespace, execution.flow_id,
            execution.state.current, now,
        )  # fmt: skip
        return replace(step, transitions=(*step.transitions, transition))

    async def _tally(self, snapshot: Snapshot) -> SlotTally:
        execution = snapshot.execution
        key = (execution.tenant_id, execution.namespace, execution.flow_id)
        tally = self._tallies.get(key)
        if tally is None:
            live = await self._store.live_executions(*key)
            tally = self._tallies[key] = SlotTally.of(live)
        return tally

    async def _create_retries(
        self, snapshot: Snapshot, step: ExecutionStep, now: datetime
    ) -> ExecutionStep:
        kept: list[NewEvent] = []
        original = step.execution or snapshot.execution
        for event in step.events:
            if event.kind != ev.RETRY_EXECUTION:
                kept.append(event)
                continue
            retry = retry_execution(original, str(event.payload["executionId"]), now)
            try:
                await self._store.create_execution(retry)
            except ConflictError:
                pass  # decided before (the write of that step failed): it exists already
            self._feed.publish(WORK_TOPIC)  # its ``created`` event is committed
        return replace(step, events=tuple(kept))
