"""``CREATE_NEW_EXECUTION`` retries, stepped through ``decide``."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.engine.sim import Sim
from tests.unit.engine.test_executor import LOG, flow

from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.retries import retry_execution, retry_execution_id

S = StateType

NEW_EXECUTION = flow(
    f"""
  - id: a
    type: {LOG}
    message: x
    retry:
      type: constant
      interval: PT10S
      maxAttempt: 3
      behavior: CREATE_NEW_EXECUTION
  - id: b
    type: {LOG}
    message: never
""",
    f"errors:\n  - id: e\n    type: {LOG}\n    message: oops\n",
)


def requests(sim: Sim) -> list[dict[str, object]]:
    return [
        dict(e.payload) for step in sim.steps for e in step.events if e.kind == ev.RETRY_EXECUTION
    ]


def test_failed_task_is_retried_as_a_new_execution_after_the_delay() -> None:
    sim = Sim(NEW_EXECUTION, answers={"a": ("FAILED", None)})
    assert sim.drain().state.current is S.RETRIED  # RetryCaseTest#retryNewExecution*
    assert sim.state("a") is S.RETRIED
    assert sim.state("e") is S.SUCCESS
    assert not sim.has_run("b")
    assert requests(sim) == []
    sim.advance_clock(9)
    assert requests(sim) == []
    sim.advance_clock(1)
    assert requests(sim) == [
        {"executionId": retry_execution_id(sim.execution), "taskRunId": sim.run_of("a").id}
    ]
    assert sim.execution.state.current is S.RETRIED


def test_the_new_execution_copies_inputs_and_labels_with_the_next_attempt_number() -> None:
    sim = Sim(NEW_EXECUTION)
    original = replace(sim.execution, inputs={"x": 1}, original_id=sim.execution.id)
    retry = retry_execution(original, retry_execution_id(original), sim.now)
    assert retry.id == retry_execution_id(original) != original.id
    assert retry.state.current is S.CREATED
    assert retry.inputs == {"x": 1}
    assert retry.labels == original.labels
    assert retry.flow_revision == original.flow_revision
    assert retry.attempt_number == 2
    assert retry.original_id == original.id
    assert retry.parent_id == original.id
    assert retry_execution_id(retry) != retry.id


def test_no_new_execution_once_max_attempt_is_reached() -> None:
    sim = Sim(NEW_EXECUTION, answers={"a": ("FAILED", None)})
    sim.execution = replace(sim.execution, attempt_number=3)
    assert sim.drain().state.current is S.FAILED
    assert sim.state("a") is S.FAILED
    sim.advance_clock(60)
    assert requests(sim) == []


def test_flow_level_policy_applies_to_every_task() -> None:
    source = flow(
        f"  - id: a\n    type: {LOG}\n    message: x\n",
        "retry:\n  type: constant\n  interval: PT1S\n  maxAttempt: 2\n"
        "  behavior: CREATE_NEW_EXECUTION\n",
    )
    sim = Sim(source, answers={"a": ("FAILED", None)})
    assert sim.drain().state.current is S.RETRIED
    sim.advance_clock(1)
    assert len(requests(sim)) == 1


RETRIED_IN_PLACE = flow(
    f"""
  - id: a
    type: {LOG}
    message: x
    retry:
      type: constant
      interval: PT1S
      maxAttempt: 3
"""
)


def _fail(sim: Sim, **extra: object) -> None:
    job = sim.held.pop()
    run = sim.runs[job.task_run_id]
    payload = {"taskRunId": run.id, "attempt": job.payload["attempt"], "state": "FAILED"}
    sim.send(ev.TASK_RESULT, {**payload, "outputs": None, **extra})


def test_a_retryable_failure_is_retried() -> None:
    sim = Sim(RETRIED_IN_PLACE, hold={"a"})
    sim.drain()
    _fail(sim)
    sim.drain()
    assert sim.state("a") is S.RETRYING


def test_a_failure_that_cannot_succeed_on_retry_is_not_retried() -> None:
    for source in (RETRIED_IN_PLACE, NEW_EXECUTION):
        sim = Sim(source, hold={"a"})
        sim.drain()
        _fail(sim, retryable=False)
        sim.advance_clock(60)
        assert sim.state("a") is S.FAILED
        assert len(sim.run_of("a").attempts) == 1
        assert sim.execution.state.current is S.FAILED
        assert requests(sim) == []
