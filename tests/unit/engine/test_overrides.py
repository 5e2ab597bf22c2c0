"""Pause from outside and forced task-run states (``state``), stepped through ``decide``."""

from __future__ import annotations

from tests.unit.engine.sim import Sim
from tests.unit.engine.test_executor import FLOWS, LOG, SEQUENCE, flow

from lanner.domain.states import StateType
from lanner.engine import events as ev

S = StateType

PARALLEL_THEN_LOG = flow(
    f"""
  - id: par
    type: {FLOWS}.Parallel
    concurrent: 1
    tasks:
      - id: p1
        type: {LOG}
        message: one
      - id: p2
        type: {LOG}
        message: two
  - id: after
    type: {LOG}
    message: after
"""
)


def test_pause_lets_running_tasks_finish_but_starts_nothing_new() -> None:
    sim = Sim(SEQUENCE, hold={"a"})
    sim.drain()
    sim.send(ev.PAUSE, {})
    sim.drain()
    assert sim.execution.state.current is S.PAUSED
    sim.release()
    sim.drain()
    assert sim.state("a") is S.SUCCESS
    assert not sim.has_run("b")
    assert sim.execution.state.current is S.PAUSED
    sim.send(ev.RESUME, {})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["a", "b", "c"]
    assert [h.state for h in sim.execution.state.histories] == [
        S.CREATED, S.RUNNING, S.PAUSED, S.RUNNING, S.SUCCESS,
    ]  # fmt: skip


def test_pause_holds_parallel_and_loop_children() -> None:
    sim = Sim(PARALLEL_THEN_LOG, hold={"p1"})
    sim.drain()
    sim.send(ev.PAUSE, {})
    sim.drain()
    sim.release()
    sim.drain()
    assert not sim.has_run("p2")
    sim.send(ev.RESUME, {})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["p1", "p2", "after"]


def test_pause_sent_with_created_starts_nothing_until_resumed() -> None:
    sim = Sim(SEQUENCE)
    sim.send(ev.PAUSE, {})
    sim.step()
    assert sim.execution.state.current is S.PAUSED
    sim.drain()
    assert sim.order == []
    sim.send(ev.RESUME, {})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["a", "b", "c"]


def test_pause_of_a_terminated_or_paused_execution_is_ignored() -> None:
    sim = Sim(SEQUENCE)
    sim.drain()
    sim.send(ev.PAUSE, {})
    assert sim.drain().state.current is S.SUCCESS


def test_kill_of_an_execution_paused_from_outside() -> None:
    sim = Sim(SEQUENCE, hold={"a"})
    sim.drain()
    sim.send(ev.PAUSE, {})
    sim.drain()
    sim.send(ev.KILL, {})
    sim.drain()
    sim.release("KILLED")
    assert sim.drain().state.current is S.KILLED
    assert not sim.has_run("b")


PAUSE_TASK = flow(
    f"""
  - id: wait
    type: {FLOWS}.Pause
  - id: after
    type: {LOG}
    message: resumed
"""
)


def test_state_success_on_a_paused_pause_task_resumes_the_execution() -> None:
    sim = Sim(PAUSE_TASK)
    sim.drain()
    assert sim.execution.state.current is S.PAUSED
    sim.send(ev.STATE, {"taskRunId": sim.run_of("wait").id, "state": "SUCCESS"})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.state("wait") is S.SUCCESS
    assert sim.run_of("wait").outputs == {"onResume": {}}
    assert sim.order == ["after"]


def test_state_failed_on_a_pause_task_fails_the_execution() -> None:
    sim = Sim(PAUSE_TASK)
    sim.drain()
    sim.send(ev.STATE, {"taskRunId": sim.run_of("wait").id, "state": "FAILED"})
    assert sim.drain().state.current is S.FAILED
    assert not sim.has_run("after")


def test_state_flips_a_failed_task_to_success_and_the_execution_goes_on() -> None:
    sim = Sim(SEQUENCE, answers={"b": ("FAILED", None)})
    assert sim.drain().state.current is S.FAILED
    b = sim.run_of("b")
    sim.send(ev.STATE, {"taskRunId": b.id, "state": "SUCCESS"})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["a", "b", "c"]
    b = sim.run_of("b")
    assert b.state.current is S.SUCCESS
    assert b.attempts[-1].state.current is S.SUCCESS
    histories = [h.state for h in sim.execution.state.histories]
    assert histories[-4:] == [S.FAILED, S.RESTARTED, S.RUNNING, S.SUCCESS]
    assert sim.execution.attempt_number == 1


def test_state_reopens_flowable_parents_and_drops_old_errors_runs() -> None:
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
""",
        f"errors:\n  - id: e\n    type: {LOG}\n    message: oops\n",
    )
    sim = Sim(source, answers={"a": ("FAILED", None)})
    assert sim.drain().state.current is S.FAILED
    assert sim.state("e") is S.SUCCESS
    sim.send(ev.STATE, {"taskRunId": sim.run_of("a").id, "state": "SUCCESS"})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.state("seq") is S.SUCCESS
    assert sim.order == ["a", "e", "b"]


def test_state_warning_ends_the_execution_in_warning() -> None:
    sim = Sim(SEQUENCE, answers={"c": ("FAILED", None)})
    assert sim.drain().state.current is S.FAILED
    sim.send(ev.STATE, {"taskRunId": sim.run_of("c").id, "state": "WARNING"})
    assert sim.drain().state.current is S.WARNING


def test_state_with_a_non_terminal_state_or_unknown_run_is_ignored() -> None:
    sim = Sim(SEQUENCE, answers={"b": ("FAILED", None)})
    sim.drain()
    sim.send(ev.STATE, {"taskRunId": sim.run_of("b").id, "state": "RUNNING"})
    sim.send(ev.STATE, {"taskRunId": "nope", "state": "SUCCESS"})
    assert sim.drain().state.current is S.FAILED
    assert len(sim.execution.state.histories) == 3
