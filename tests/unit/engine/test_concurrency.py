"""Flow concurrency limits: admission through ``decide`` and the loop's slot tally."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.unit.engine.sim import T0, Sim
from tests.unit.engine.test_executor import LOG, flow

from lanner.domain.executions import Execution
from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.concurrency import SlotTally
from lanner.engine.executor import decide
from lanner.store import ExecutorEvent, LiveExecution

S = StateType


def limited(behavior: str | None = None, limit: int = 1) -> str:
    extra = f"concurrency:\n  limit: {limit}\n" + (f"  behavior: {behavior}\n" if behavior else "")
    return flow(f"  - id: a\n    type: {LOG}\n    message: x\n", extra)


def step_with(sim: Sim, kind: str, taken: int | None) -> Execution:
    event = ExecutorEvent(99, sim.execution.id, kind, {}, sim.now)
    step = decide(
        sim.flow, sim.execution, list(sim.runs.values()), [event], sim.now, slots_taken=taken
    )
    if step.execution is not None:
        sim.execution = step.execution
    for run in step.task_runs:
        sim.runs[run.id] = run
    sim.steps.append(step)
    return sim.execution


def fresh(source: str) -> Sim:
    sim = Sim(source)
    sim.pending.clear()  # the ``created`` event is sent by hand, with a count
    return sim


def test_a_free_slot_starts_the_execution() -> None:
    sim = fresh(limited())
    assert step_with(sim, ev.CREATED, 0).state.current is S.RUNNING
    assert sim.steps[-1].jobs


def test_no_count_means_no_limit() -> None:
    sim = fresh(limited())
    assert step_with(sim, ev.CREATED, None).state.current is S.RUNNING


def test_queue_by_default_then_start_when_a_slot_frees() -> None:
    sim = fresh(limited())
    queued = step_with(sim, ev.CREATED, 1)
    assert queued.state.current is S.QUEUED
    assert not sim.steps[-1].jobs
    assert not sim.runs
    assert step_with(sim, ev.SLOT_FREED, 1).state.current is S.QUEUED
    running = step_with(sim, ev.SLOT_FREED, 0)
    assert [h.state for h in running.state.histories] == [S.CREATED, S.QUEUED, S.RUNNING]
    assert sim.steps[-1].jobs


@pytest.mark.parametrize(("behavior", "state"), [("CANCEL", S.CANCELLED), ("FAIL", S.FAILED)])
def test_cancel_and_fail_behaviors_end_the_execution(behavior: str, state: StateType) -> None:
    sim = fresh(limited(behavior))
    execution = step_with(sim, ev.CREATED, 1)
    assert [h.state for h in execution.state.histories] == [S.CREATED, state]
    assert not sim.runs


def test_slot_freed_for_a_running_execution_is_ignored() -> None:
    sim = fresh(limited())
    step_with(sim, ev.CREATED, 0)
    histories = sim.execution.state.histories
    assert step_with(sim, ev.SLOT_FREED, 5).state.histories == histories


def test_kill_of_a_queued_execution() -> None:
    sim = fresh(limited())
    step_with(sim, ev.CREATED, 1)
    assert step_with(sim, ev.KILL, None).state.current is S.KILLED


# -- the tally -----------------------------------------------------------------------------------


def live(execution_id: str, state: StateType, seconds: int) -> LiveExecution:
    return LiveExecution(execution_id, state, T0 + timedelta(seconds=seconds))


def test_tally_counts_running_and_queued_before() -> None:
    tally = SlotTally.of(
        [
            live("r1", S.RUNNING, 0),
            live("p1", S.PAUSED, 1),
            live("q1", S.QUEUED, 2),
            live("c1", S.CREATED, 3),
            live("q2", S.QUEUED, 4),
        ]
    )
    assert tally.taken_before("q1") == 2
    assert tally.taken_before("q2") == 3
    assert tally.taken_before("c1") == 4  # a new one waits behind every queued one
    assert tally.next_queued(1) == ["q1"]


def test_tally_follows_the_batch_decisions() -> None:
    tally = SlotTally.of([live("r1", S.RUNNING, 0)])
    tally.note("c1", T0 + timedelta(seconds=1), S.QUEUED)
    tally.note("c2", T0 + timedelta(seconds=2), S.QUEUED)
    assert tally.taken_before("c2") == 2
    tally.note("r1", T0, S.SUCCESS)
    assert tally.taken_before("c1") == 0
    tally.note("c1", T0 + timedelta(seconds=1), S.RUNNING)
    assert tally.taken_before("c2") == 1
    assert tally.next_queued(5) == ["c2"]


def test_force_run_starts_a_queued_execution_past_the_limit() -> None:
    sim = fresh(limited())
    assert step_with(sim, ev.CREATED, 1).state.current is S.QUEUED
    forced = step_with(sim, ev.FORCE_RUN, 1)
    assert [h.state for h in forced.state.histories] == [S.CREATED, S.QUEUED, S.RUNNING]
    assert sim.steps[-1].jobs
    # the execution's delayed ``created`` event, due later, changes nothing any more
    assert step_with(sim, ev.CREATED, 1).state.current is S.RUNNING


def test_force_run_of_a_running_execution_changes_nothing() -> None:
    sim = fresh(limited())
    running = step_with(sim, ev.CREATED, 0)
    assert step_with(sim, ev.FORCE_RUN, 0) == running
