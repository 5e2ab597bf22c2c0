"""Flow ``concurrency`` limits: whether a new (or queued) execution may start, and the tally of
one flow's slots the executor loop keeps while it decides a batch.

The count comes from the store (:meth:`ExecutionStore.live_executions`), read once per flow and
batch; :class:`SlotTally` then follows the batch's own decisions (admitted, queued, ended), whose
writes are not committed yet. An execution may start when the executions running plus those
queued *before* it are fewer than ``limit``, so queued ones start in creation order and a new
one never overtakes them. Pure: no I/O, no clock.

Multi-node caveat: two executor processes deciding at once for two executions of the same flow
both read the same committed count and may both admit, going over the limit by one. The
embedded mode runs one executor, where the tally holds exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from lanner.domain.flows import Concurrency
from lanner.domain.states import StateType
from lanner.store import LiveExecution

S = StateType
WAITING = frozenset({S.CREATED, S.QUEUED})
"""Unfinished states that hold no slot."""


def admission(limit: Concurrency | None, slots_taken: int | None) -> StateType:
    """RUNNING when a slot is free (or no limit, or no count given); otherwise QUEUED,
    CANCELLED or FAILED as ``behavior`` says."""
    if limit is None or slots_taken is None or slots_taken < limit.limit:
        return S.RUNNING
    behavior = limit.behavior.upper()
    if behavior == "CANCEL":
        return S.CANCELLED
    if behavior == "FAIL":
        return S.FAILED
    return S.QUEUED


@dataclass(slots=True)
class SlotTally:
    """One flow's slots during a batch: the store's view plus the batch's decisions."""

    running: set[str] = field(default_factory=set)
    queued: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, live: Iterable[LiveExecution]) -> SlotTally:
        tally = cls()
        for execution in live:
            if execution.state is S.QUEUED:
                tally.queued[execution.id] = (execution.created, execution.id)
            elif execution.state not in WAITING:
                tally.running.add(execution.id)
        return tally

    def taken_before(self, execution_id: str) -> int:
        """Slots held by running executions and by executions queued before this one."""
        position = self.queued.get(execution_id)
        ahead = (
            len(self.queued)
            if position is None
            else sum(1 for other in self.queued.values() if other < position)
        )
        return len(self.running) + ahead

    def note(self, execution_id: str, created: datetime, state: StateType) -> None:
        """Follow a decision's outcome for an execution of this flow."""
        if state is S.QUEUED:
            self.queued[execution_id] = (created, execution_id)
            return
        self.queued.pop(execution_id, None)
        if state.is_terminated or state in WAITING:
            self.running.discard(execution_id)
        else:
            self.running.add(execution_id)

    def next_queued(self, count: int) -> list[str]:
        """The ``count`` oldest queued executions."""
        return [execution_id for _, execution_id in sorted(self.queued.values())[:count]]
