"""``flow.LoopUntil`` (alias ``WaitFor``), stepped through ``decide``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tests.unit.engine.sim import Sim
from tests.unit.engine.test_executor import FLOWS, LOG, flow

from lanner.domain.executions import TaskRun
from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.repeats import CHECKING

S = StateType


def until_flow(frequency: str = "", extra: str = "", alias: str = "LoopUntil") -> str:
    return flow(
        f"""
  - id: loop
    type: {FLOWS}.{alias}
    condition: "{{{{ outputs.step.value == 'done' }}}}"
{extra}{frequency}    tasks:
      - id: step
        type: {LOG}
        message: x
      - id: again
        type: {LOG}
        message: y
  - id: after
    type: {LOG}
    message: z
"""
    )


def conditions(*values: bool) -> Any:
    """A fake worker rendering the condition: ``values`` in turn."""
    results: Iterator[bool] = iter(values)

    def resolve(run: TaskRun) -> Mapping[str, Any]:
        return {"attempt": run.internal[CHECKING] + 1, "condition": next(results)}

    return resolve


NO_WAIT = "    checkFrequency:\n      interval: PT0S\n"


def test_repeats_until_the_condition_holds() -> None:
    sim = Sim(until_flow(NO_WAIT), resolutions={"loop": conditions(False, False, True)})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["step", "again"] * 3 + ["after"]
    assert sim.run_of("loop").outputs == {"iterationCount": 3}
    assert [sim.state("step", i) for i in range(3)] == [S.SUCCESS] * 3
    assert sim.run_of("step", 2).iteration == 2


def test_waits_the_interval_between_iterations() -> None:
    frequency = "    checkFrequency:\n      interval: PT30S\n"
    sim = Sim(until_flow(frequency), resolutions={"loop": conditions(False, True)})
    sim.drain()
    assert sim.order == ["step", "again"]
    sim.advance_clock(29)
    assert sim.order == ["step", "again"]
    assert sim.advance_clock(1).state.current is S.SUCCESS
    assert sim.order == ["step", "again", "step", "again", "after"]


def test_max_iterations_succeeds_by_default() -> None:
    frequency = "    checkFrequency:\n      interval: PT0S\n      maxIterations: 2\n"
    sim = Sim(until_flow(frequency), resolutions={"loop": conditions(False, False, False)})
    assert sim.drain().state.current is S.SUCCESS
    assert sim.run_of("loop").outputs == {"iterationCount": 2}
    assert sim.order == ["step", "again", "step", "again", "after"]


def test_max_iterations_fails_with_fail_on_max_reached() -> None:
    frequency = "    checkFrequency:\n      interval: PT0S\n      maxIterations: 2\n"
    sim = Sim(
        until_flow(frequency, "    failOnMaxReached: true\n"),
        resolutions={"loop": conditions(False, False)},
    )
    assert sim.drain().state.current is S.FAILED
    assert sim.state("loop") is S.FAILED
    assert not sim.has_run("after")


def test_max_duration_ends_the_loop() -> None:
    frequency = "    checkFrequency:\n      interval: PT10S\n      maxDuration: PT25S\n"
    sim = Sim(
        until_flow(frequency, "    failOnMaxReached: true\n"),
        resolutions={"loop": conditions(*[False] * 10)},
    )
    sim.drain()
    sim.advance_clock(10)
    sim.advance_clock(10)
    assert sim.execution.state.current is S.RUNNING
    assert sim.advance_clock(10).state.current is S.FAILED  # checked after iteration 4, at 30s
    assert sim.run_of("loop").outputs == {"iterationCount": 4}


def test_a_failed_child_fails_the_loop() -> None:
    sim = Sim(
        until_flow(NO_WAIT),
        answers={"again": ("FAILED", None)},
        resolutions={"loop": conditions(False)},
    )
    assert sim.drain().state.current is S.FAILED
    assert sim.state("loop") is S.FAILED
    assert sim.order == ["step", "again"]


def test_a_condition_render_error_fails_the_loop() -> None:
    sim = Sim(
        until_flow(NO_WAIT),
        resolutions={"loop": lambda run: {"attempt": 1, "error": "bad"}},
    )
    assert sim.drain().state.current is S.FAILED


def test_wait_for_alias_and_kill_while_waiting() -> None:
    frequency = "    checkFrequency:\n      interval: PT1M\n"
    sim = Sim(until_flow(frequency, alias="WaitFor"), resolutions={"loop": conditions(False)})
    sim.drain()
    sim.send(ev.KILL, {})
    assert sim.drain().state.current is S.KILLED
    assert sim.state("loop") is S.KILLED
    sim.advance_clock(60)
    assert sim.order == ["step", "again"]


def test_keeps_working_with_a_kept_index() -> None:
    sim = Sim(until_flow(NO_WAIT), resolutions={"loop": conditions(False, True)}, keep_index=True)
    assert sim.drain().state.current is S.SUCCESS
    assert sim.order == ["step", "again", "step", "again", "after"]
