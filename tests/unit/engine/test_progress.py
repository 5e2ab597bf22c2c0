"""Sequence cursors: a run index kept across steps decides exactly like a fresh one."""

from __future__ import annotations

from tests.unit.engine.sim import Sim
from tests.unit.engine.test_executor import FLOWS, LOG, flow

from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.runs import RunIndex

S = StateType


def long_sequence(count: int, extra: str = "") -> str:
    tasks = "".join(f"  - id: t{i}\n    type: {LOG}\n    message: m{i}\n" for i in range(count))
    return flow(tasks, extra)


def test_a_long_sequence_runs_in_order_with_a_kept_index() -> None:
    sim = Sim(long_sequence(50), keep_index=True)
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == [f"t{i}" for i in range(50)]


def test_the_kept_index_gives_the_same_steps_as_a_fresh_one() -> None:
    source = long_sequence(5, f"errors:\n  - id: e\n    type: {LOG}\n    message: oops\n")
    runs = []
    for keep in (False, True):
        sim = Sim(source, keep_index=keep, answers={"t3": ("WARNING", None)})
        assert sim.drain().state.current is S.WARNING
        runs.append([(r.task_id, r.state.current) for r in sim.runs.values()])
        assert [len(step.jobs) for step in sim.steps][:3] == [1, 1, 1]
    assert runs[0] == runs[1]


def test_a_failure_after_the_cursor_still_stops_the_sequence() -> None:
    sim = Sim(long_sequence(10), keep_index=True, answers={"t7": ("FAILED", None)})
    assert sim.drain().state.current is S.FAILED
    assert sim.order == [f"t{i}" for i in range(8)]


def test_restart_from_a_covered_run_reopens_the_sequence() -> None:
    sim = Sim(long_sequence(6), keep_index=True)
    assert sim.drain().state.current is S.SUCCESS
    sim.send(ev.RESTART, {"taskRunId": sim.run_of("t2").id})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == [f"t{i}" for i in range(6)] + [f"t{i}" for i in range(2, 6)]


def test_restart_inside_a_nested_sequence_with_a_kept_index() -> None:
    source = flow(
        f"""
  - id: seq
    type: {FLOWS}.Sequential
    tasks:
      - id: a
        type: {LOG}
        message: x
      - id: b
        type: {LOG}
        message: y
  - id: c
    type: {LOG}
    message: z
"""
    )
    answers = iter([("FAILED", None), ("SUCCESS", None)])
    sim = Sim(source, keep_index=True, answers={"b": lambda run: next(answers)})
    assert sim.drain().state.current is S.FAILED
    sim.send(ev.RESTART, {})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["a", "b", "b", "c"]


def test_a_state_override_of_a_covered_run_is_seen() -> None:
    sim = Sim(long_sequence(3), keep_index=True)
    assert sim.drain().state.current is S.SUCCESS
    run = sim.run_of("t0")
    sim.send(ev.STATE, {"taskRunId": run.id, "state": "FAILED"})
    sim.drain()
    assert sim.state("t0") is S.FAILED
    assert sim.execution.state.current is S.FAILED


def test_an_index_forgets_a_cursor_when_its_branch_changes() -> None:
    index = RunIndex()
    first = Sim(long_sequence(2)).flow.tasks
    second = Sim(long_sequence(3)).flow.tasks
    cursor = index.sequence((None, "tasks", None), first)
    assert len(cursor.enabled) == 2
    assert len(index.sequence((None, "tasks", None), second).enabled) == 3
