"""Pause from outside and forced task-run states, end to end on the real store (both backends)."""

from __future__ import annotations

import asyncio

from tests.engine.conftest import DEADLINE_S, Harness

from lanner.domain.states import StateType
from lanner.engine import events as ev

S = StateType
RET = "io.kestra.plugin.core.debug.Return"
FLOWS = "io.kestra.plugin.core.flow"


def flow(tasks: str, flow_id: str = "f") -> str:
    return f"id: {flow_id}\nnamespace: company.team\ntasks:\n{tasks}"


async def wait_for_run(harness: Harness, execution_id: str, key: str, state: StateType) -> None:
    """Poll (with a deadline) until the run ``key`` is in ``state``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE_S
    while True:
        run = (await harness.runs(execution_id)).get(key)
        if run is not None and run.state.current is state:
            return
        assert loop.time() < end, f"{key} never reached {state}"
        await asyncio.sleep(0.02)


SLEEP_THEN_RETURN = flow(
    f"""
  - id: nap
    type: {FLOWS}.Sleep
    duration: PT0.3S
  - id: after
    type: {RET}
    format: done
""",
    "paused",
)


async def test_pause_finishes_the_running_task_then_waits_for_resume(harness: Harness) -> None:
    execution_id = await harness.start(SLEEP_THEN_RETURN)
    await harness.wait_for(execution_id, S.RUNNING)
    await harness.send(execution_id, ev.PAUSE, {})
    await harness.wait_for(execution_id, S.PAUSED)
    await wait_for_run(harness, execution_id, "nap", S.SUCCESS)
    runs = await harness.runs(execution_id)
    assert runs["nap"].state.current is S.SUCCESS
    assert "after" not in runs
    assert (await harness.wait_for(execution_id, S.PAUSED)).state.current is S.PAUSED
    await harness.send(execution_id, ev.RESUME, {})
    execution = await harness.wait_for(execution_id)
    assert execution.state.current is S.SUCCESS
    assert (await harness.runs(execution_id))["after"].outputs == {"value": "done"}


async def test_state_flips_a_failed_task_and_the_execution_goes_on(harness: Harness) -> None:
    source = flow(
        f"""
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
  - id: after
    type: {RET}
    format: "after {{{{ tasks.boom.state }}}}"
""",
        "flipped",
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED
    boom = (await harness.runs(execution_id))["boom"]
    await harness.send(execution_id, ev.STATE, {"taskRunId": boom.id, "state": "SUCCESS"})
    execution = await harness.wait_for(execution_id, S.SUCCESS)
    states = [h.state for h in execution.state.histories]
    assert states[-3:] == [S.RESTARTED, S.RUNNING, S.SUCCESS]
    runs = await harness.runs(execution_id)
    assert runs["boom"].state.current is S.SUCCESS
    assert runs["after"].outputs == {"value": "after SUCCESS"}


async def test_state_resumes_a_pause_task(harness: Harness) -> None:
    source = flow(
        f"""
  - id: wait
    type: {FLOWS}.Pause
  - id: after
    type: {RET}
    format: resumed
""",
        "marked",
    )
    execution_id = await harness.start(source)
    await harness.wait_for(execution_id, S.PAUSED)
    wait = (await harness.runs(execution_id))["wait"]
    await harness.send(execution_id, ev.STATE, {"taskRunId": wait.id, "state": "SUCCESS"})
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    assert (await harness.runs(execution_id))["after"].outputs == {"value": "resumed"}
