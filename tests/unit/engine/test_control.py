"""Kill, restart, pause/resume, retries and subflow ends, stepped through ``decide``."""

from __future__ import annotations

from tests.unit.engine.sim import Sim
from tests.unit.engine.test_executor import FLOWS, LOG, SEQUENCE, flow

from lanner.domain.executions import ExecutionTrigger
from lanner.domain.states import StateType
from lanner.engine import events as ev

S = StateType

SLEEPY = flow(
    f"""
  - id: par
    type: {FLOWS}.Parallel
    tasks:
      - id: s1
        type: {FLOWS}.Sleep
        duration: PT1H
      - id: s2
        type: {FLOWS}.Sleep
        duration: PT1H
  - id: after
    type: {LOG}
    message: never
"""
)


def test_kill_goes_through_killing_and_waits_for_running_tasks() -> None:
    sim = Sim(SLEEPY, hold={"s1", "s2"})
    sim.drain()
    sim.send(ev.KILL, {"cascade": True})
    sim.drain()
    assert sim.execution.state.current is S.KILLING
    sim.release("KILLED")
    assert sim.drain().state.current is S.KILLED
    assert [h.state for h in sim.execution.state.histories][-2:] == [S.KILLING, S.KILLED]
    assert sim.state("s1") is S.KILLED
    assert sim.state("par") is S.KILLED
    assert not sim.has_run("after")


def test_kill_creates_nothing_new_even_when_a_task_succeeds_meanwhile() -> None:
    sim = Sim(SEQUENCE, hold={"a"})
    sim.drain()
    sim.send(ev.KILL, {})
    sim.drain()
    sim.release("SUCCESS")
    assert sim.drain().state.current is S.KILLED
    assert not sim.has_run("b")


def test_kill_of_a_terminated_execution_is_ignored() -> None:
    sim = Sim(SEQUENCE)
    sim.drain()
    sim.send(ev.KILL, {})
    assert sim.drain().state.current is S.SUCCESS


def test_kill_cascades_to_subflow_children() -> None:
    source = flow(f"  - id: sub\n    type: {FLOWS}.Subflow\n    namespace: n\n    flowId: child\n")
    sim = Sim(source, answers={"sub": ("RUNNING", {"executionId": "child1"})})
    sim.answer = _subflow_answer(sim)  # type: ignore[method-assign]
    sim.drain()
    assert sim.run_of("sub").internal["childId"] == "child1"
    sim.send(ev.KILL, {"cascade": True})
    sim.drain()
    assert [(e.execution_id, e.kind) for e in sim.outbox] == [("child1", ev.KILL)]


def _subflow_answer(sim: Sim):  # type: ignore[no-untyped-def]
    def answer(job, state=None):  # type: ignore[no-untyped-def]
        run = sim.runs[job.task_run_id]
        sim.send(
            ev.TASK_RESULT,
            {"taskRunId": run.id, "attempt": 1, "state": "RUNNING", "childId": "child1",
             "outputs": {"executionId": "child1"}},
        )  # fmt: skip

    return answer


def test_subflow_waits_for_child_end_and_takes_its_state() -> None:
    source = flow(
        f"  - id: sub\n    type: {FLOWS}.Subflow\n    namespace: n\n    flowId: child\n"
        f"  - id: after\n    type: {LOG}\n    message: x\n"
    )
    sim = Sim(source)
    sim.answer = _subflow_answer(sim)  # type: ignore[method-assign]
    sim.drain()
    assert sim.state("sub") is S.RUNNING
    payload = {"taskRunId": sim.run_of("sub").id, "executionId": "child1", "state": "FAILED",
               "outputs": {"o": 1}}  # fmt: skip
    sim.send(ev.CHILD_ENDED, payload)
    assert sim.drain().state.current is S.FAILED
    assert sim.run_of("sub").outputs == {
        "executionId": "child1",
        "state": "FAILED",
        "outputs": {"o": 1},
    }


def test_child_execution_tells_its_parent_when_it_ends() -> None:
    trigger = ExecutionTrigger("sub", "io.kestra.plugin.core.flow.Subflow", {"taskRunId": "tr1"})
    sim = Sim(SEQUENCE, parent_id="parent1", trigger=trigger)
    sim.drain()
    assert [(e.execution_id, e.kind, e.payload["taskRunId"], e.payload["state"])
            for e in sim.outbox] == [("parent1", ev.CHILD_ENDED, "tr1", "SUCCESS")]  # fmt: skip


PAUSE = flow(
    f"""
  - id: wait
    type: {FLOWS}.Pause
  - id: after
    type: {LOG}
    message: resumed
"""
)


def test_pause_without_delay_waits_for_resume() -> None:
    sim = Sim(PAUSE)
    sim.drain()
    assert sim.execution.state.current is S.PAUSED
    assert sim.state("wait") is S.PAUSED
    assert sim.execution.state.end_date is not None
    sim.send(ev.RESUME, {"inputs": {"ok": True}})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.run_of("wait").outputs == {"onResume": {"ok": True}}
    assert sim.order == ["after"]


def test_pause_with_delay_resumes_by_timer() -> None:
    sim = Sim(PAUSE.replace("Pause\n", "Pause\n    delay: PT5S\n"))
    sim.drain()
    assert sim.execution.state.current is S.PAUSED
    sim.advance_clock(4)
    assert sim.execution.state.current is S.PAUSED
    assert sim.advance_clock(1).state.current is S.SUCCESS
    assert sim.state("wait") is S.SUCCESS


def test_pause_timeout_fails_unless_resumed() -> None:
    sim = Sim(PAUSE.replace("Pause\n", "Pause\n    timeout: PT5S\n"))
    sim.drain()
    assert sim.advance_clock(5).state.current is S.FAILED
    assert sim.state("wait") is S.FAILED


def test_resume_of_a_running_execution_is_ignored() -> None:
    sim = Sim(SEQUENCE, hold={"a"})
    sim.drain()
    sim.send(ev.RESUME, {})
    sim.drain()
    assert sim.execution.state.current is S.RUNNING


def test_kill_of_a_paused_execution() -> None:
    sim = Sim(PAUSE)
    sim.drain()
    sim.send(ev.KILL, {})
    assert sim.drain().state.current is S.KILLED
    assert sim.state("wait") is S.KILLED


def retry_flow(policy: str) -> str:
    return flow(f"  - id: a\n    type: {LOG}\n    message: x\n    retry:\n{policy}")


def test_retry_constant_reruns_as_new_attempts_after_the_interval() -> None:
    source = retry_flow("      type: constant\n      interval: PT10S\n      maxAttempt: 3\n")
    sim = Sim(source, answers={"a": ("FAILED", None)})
    sim.drain()
    assert sim.state("a") is S.RETRYING
    sim.advance_clock(10)
    assert sim.state("a") is S.RETRYING
    assert sim.advance_clock(10).state.current is S.FAILED
    run = sim.run_of("a")
    assert len(run.attempts) == 3
    assert [h.state for h in run.state.histories].count(S.RETRYING) == 2


def test_retry_succeeds_on_second_attempt_with_warning_on_retry() -> None:
    answers = iter([("FAILED", None), ("SUCCESS", {"v": 1})])
    source = retry_flow(
        "      type: constant\n      interval: PT1S\n      maxAttempt: 3\n      warningOnRetry: true\n"
    )
    sim = Sim(source, answers={"a": lambda run: next(answers)})
    sim.drain()
    assert sim.advance_clock(1).state.current is S.WARNING
    assert len(sim.run_of("a").attempts) == 2


def test_retry_exponential_waits_longer_each_time() -> None:
    source = retry_flow(
        "      type: exponential\n      interval: PT1S\n      maxInterval: PT1M\n"
        "      maxAttempt: 4\n"
    )
    sim = Sim(source, answers={"a": ("FAILED", None)})
    sim.drain()
    delays = []
    for step in sim.steps:
        delays += [(e.available_at - sim.now).total_seconds() for e in step.events]
    assert delays == [1.0]
    sim.advance_clock(1)
    sim.advance_clock(2)
    assert sim.state("a") is S.RETRYING
    assert sim.advance_clock(4).state.current is S.FAILED


def test_restart_reruns_failed_task_in_place_keeping_successes() -> None:
    answers = iter([("FAILED", None), ("SUCCESS", None)])
    sim = Sim(SEQUENCE, answers={"b": lambda run: next(answers)})
    assert sim.drain().state.current is S.FAILED
    a_before = sim.run_of("a")
    b_id = sim.run_of("b").id
    sim.send(ev.RESTART, {})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.execution.attempt_number == 2
    assert S.RESTARTED in [h.state for h in sim.execution.state.histories]
    assert sim.run_of("a") == a_before
    b = sim.run_of("b")
    assert b.id == b_id
    assert [a.state.current for a in b.attempts] == [S.FAILED, S.SUCCESS]
    assert S.RESTARTED in [h.state for h in b.state.histories]
    assert sim.order == ["a", "b", "b", "c"]


def test_restart_from_a_task_run_reruns_it_and_everything_after() -> None:
    sim = Sim(SEQUENCE)
    assert sim.drain().state.current is S.SUCCESS
    b = sim.run_of("b")
    sim.send(ev.RESTART, {"taskRunId": b.id})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["a", "b", "c", "b", "c"]
    assert len(sim.run_of("a").attempts) == 1
    assert len(sim.run_of("b").attempts) == 2
    assert len(sim.run_of("c").attempts) == 2


def test_restart_inside_a_flowable_reopens_its_ancestors() -> None:
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
"""
    )
    answers = iter([("FAILED", None), ("SUCCESS", None)])
    sim = Sim(source, answers={"b": lambda run: next(answers)})
    assert sim.drain().state.current is S.FAILED
    sim.send(ev.RESTART, {})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.state("seq") is S.SUCCESS
    assert sim.order == ["a", "b", "b"]


def test_restart_drops_old_errors_runs_from_the_state() -> None:
    source = SEQUENCE + f"errors:\n  - id: e\n    type: {LOG}\n    message: oops\n"
    answers = iter([("FAILED", None), ("SUCCESS", None)])
    sim = Sim(source, answers={"a": lambda run: next(answers)})
    assert sim.drain().state.current is S.FAILED
    sim.send(ev.RESTART, {})
    assert sim.drain().state.current is S.SUCCESS


def test_restart_of_a_running_execution_is_ignored() -> None:
    sim = Sim(SEQUENCE, hold={"a"})
    sim.drain()
    sim.send(ev.RESTART, {})
    sim.drain()
    assert sim.execution.attempt_number == 1
