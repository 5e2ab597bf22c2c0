"""Flows run end to end by the engine on the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.engine.conftest import Harness

from lanner.domain.logs import LogLevel
from lanner.domain.states import StateType
from lanner.engine import events as ev

S = StateType
LOG = "io.kestra.plugin.core.log.Log"
RET = "io.kestra.plugin.core.debug.Return"
FLOWS = "io.kestra.plugin.core.flow"


def flow(tasks: str, extra: str = "", flow_id: str = "f") -> str:
    return f"id: {flow_id}\nnamespace: company.team\n{extra}tasks:\n{tasks}"


async def test_sequential_outputs_feed_later_tasks(harness: Harness) -> None:
    source = flow(
        f"""
  - id: hello
    type: {LOG}
    message: "Hello {{{{ inputs.name }}}} from {{{{ flow.id }}}}"
  - id: ret
    type: {RET}
    format: "{{{{ inputs.name | upper }}}}-{{{{ envs.greeting }}}}"
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      total: "{{{{ 40 + 2 }}}}"
      echo: "{{{{ outputs.ret.value }}}}"
  - id: last
    type: {RET}
    format: "{{{{ outputs['values']['values'].total }}}} {{{{ outputs.ret.value }}}}"
""",
        "inputs:\n  - id: name\n    type: STRING\n",
    )
    execution_id = await harness.start(source, {"name": "ada"})
    execution = await harness.wait_for(execution_id)
    assert execution.state.current is S.SUCCESS
    runs = await harness.runs(execution_id)
    assert runs["ret"].outputs == {"value": "ADA-hello"}
    assert runs["values"].outputs == {"values": {"total": 42, "echo": "ADA-hello"}}
    assert runs["last"].outputs == {"value": "42 ADA-hello"}
    assert [h.state for h in execution.state.histories] == [S.CREATED, S.RUNNING, S.SUCCESS]
    ordered = await harness.store.list_task_runs(execution_id)
    assert [r.task_id for r in ordered] == ["hello", "ret", "values", "last"]
    logs = await harness.store.list_logs("main", execution_id)
    task_lines = [(e.task_id, e.message) for e in logs if not e.message.startswith("Type ")]
    assert [line for line in task_lines if line[0] is not None] == [("hello", "Hello ada from f")]
    assert ("hello", "Type Log started") in [(e.task_id, e.message) for e in logs]


async def test_parallel_if_and_switch(harness: Harness) -> None:
    source = flow(
        f"""
  - id: par
    type: {FLOWS}.Parallel
    tasks:
      - id: p1
        type: {RET}
        format: one
      - id: p2
        type: {RET}
        format: two
  - id: check
    type: {FLOWS}.If
    condition: "{{{{ outputs.p1.value == 'one' }}}}"
    then:
      - id: yes
        type: {RET}
        format: y
    else:
      - id: no
        type: {RET}
        format: n
  - id: sw
    type: {FLOWS}.Switch
    value: "{{{{ outputs.p2.value }}}}"
    cases:
      two:
        - id: case_two
          type: {RET}
          format: "2"
    defaults:
      - id: other
        type: {RET}
        format: other
"""
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    runs = await harness.runs(execution_id)
    assert set(runs) == {"par", "p1", "p2", "check", "yes", "sw", "case_two"}
    assert runs["check"].outputs == {"evaluationResult": True}
    assert runs["sw"].outputs == {"value": "two", "defaults": False}
    assert runs["p1"].parent_task_run_id == runs["par"].id


async def test_foreach_outputs_are_indexed_by_value(harness: Harness) -> None:
    source = flow(
        f"""
  - id: each
    type: {FLOWS}.ForEach
    values: ["a", "b", "c"]
    concurrencyLimit: 2
    tasks:
      - id: item
        type: {RET}
        format: "{{{{ taskrun.value }}}}-{{{{ taskrun.iteration }}}}"
  - id: pick
    type: {RET}
    format: "{{{{ outputs.item['b'].value }}}}"
"""
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    runs = await harness.runs(execution_id)
    assert runs["item[a]"].outputs == {"value": "a-0"}
    assert runs["item[c]"].outputs == {"value": "c-2"}
    assert runs["pick"].outputs == {"value": "b-1"}


async def test_errors_branch_and_allow_failure(harness: Harness) -> None:
    source = flow(
        f"""
  - id: tolerated
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "broken {{{{ flow.id }}}}"
  - id: never
    type: {LOG}
    message: never
errors:
  - id: handler
    type: {LOG}
    message: "handling"
"""
    )
    execution_id = await harness.start(source)
    execution = await harness.wait_for(execution_id)
    assert execution.state.current is S.FAILED
    runs = await harness.runs(execution_id)
    assert runs["tolerated"].state.current is S.WARNING
    assert runs["fail"].state.current is S.FAILED
    assert runs["handler"].state.current is S.SUCCESS
    assert "never" not in runs
    errors = await harness.store.list_logs("main", execution_id, min_level=LogLevel.ERROR)
    assert [entry.message for entry in errors if entry.task_id == "fail"] == ["broken f"]


async def test_run_if_skips_and_fail_condition(harness: Harness) -> None:
    source = flow(
        f"""
  - id: skipped
    type: {LOG}
    message: x
    runIf: "{{{{ 1 > 2 }}}}"
  - id: not_failing
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ 1 > 2 }}}}"
"""
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    runs = await harness.runs(execution_id)
    assert runs["skipped"].state.current is S.SKIPPED
    assert runs["not_failing"].state.current is S.SUCCESS


async def test_render_error_fails_the_task(harness: Harness) -> None:
    source = flow(f"  - id: bad\n    type: {RET}\n    format: '{{{{ nope.x }}}}'\n")
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED
    logs = await harness.store.list_logs("main", execution_id, min_level=LogLevel.ERROR)
    assert logs
    assert "nope" in logs[0].message


async def test_kill_interrupts_a_sleep(harness: Harness) -> None:
    source = flow(
        f"  - id: nap\n    type: {FLOWS}.Sleep\n    duration: PT60S\n"
        f"  - id: after\n    type: {LOG}\n    message: x\n"
    )
    execution_id = await harness.start(source)
    await _wait_task_running(harness, execution_id, "nap")
    await harness.send(execution_id, ev.KILL, {"cascade": True})
    execution = await harness.wait_for(execution_id, deadline_s=10)
    assert execution.state.current is S.KILLED
    assert S.KILLING in [h.state for h in execution.state.histories]
    runs = await harness.runs(execution_id)
    assert runs["nap"].state.current is S.KILLED
    assert "after" not in runs


async def _wait_task_running(harness: Harness, execution_id: str, task_id: str) -> None:
    import asyncio

    for _ in range(200):
        runs = await harness.runs(execution_id)
        if task_id in runs and harness.engine.worker.running_count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{task_id} never started")


async def test_restart_reruns_from_the_failed_task(harness: Harness) -> None:
    source = flow(
        f"""
  - id: first
    type: {RET}
    format: one
  - id: gate
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ execution.id is defined and taskrun.attemptsCount == 0 }}}}"
  - id: last
    type: {RET}
    format: "{{{{ outputs.first.value }}}}"
"""
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED
    first_before = (await harness.runs(execution_id))["first"]
    await harness.send(execution_id, ev.RESTART, {})
    execution = await harness.wait_for(execution_id, S.SUCCESS)
    assert execution.attempt_number == 2
    runs = await harness.runs(execution_id)
    assert runs["first"].attempts == first_before.attempts
    assert len(runs["gate"].attempts) == 2
    assert runs["last"].outputs == {"value": "one"}


async def test_pause_and_resume(harness: Harness) -> None:
    source = flow(
        f"  - id: wait\n    type: {FLOWS}.Pause\n"
        f'  - id: after\n    type: {RET}\n    format: "{{{{ outputs.wait.onResume.ok }}}}"\n'
    )
    execution_id = await harness.start(source)
    await harness.wait_for(execution_id, S.PAUSED)
    await harness.send(execution_id, ev.RESUME, {"inputs": {"ok": "yes"}})
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    assert (await harness.runs(execution_id))["after"].outputs == {"value": "yes"}


async def test_subflow_waits_for_its_child(harness: Harness) -> None:
    child = flow(
        f'  - id: c\n    type: {RET}\n    format: "{{{{ inputs.x }}}}!"\n',
        "inputs:\n  - id: x\n    type: STRING\n"
        'outputs:\n  - id: shout\n    type: STRING\n    value: "{{ outputs.c.value }}"\n',
        flow_id="child",
    )
    await harness.deploy(child)
    parent = flow(
        f"  - id: sub\n    type: {FLOWS}.Subflow\n    namespace: company.team\n"
        f"    flowId: child\n    inputs:\n      x: hey\n"
        f'  - id: after\n    type: {RET}\n    format: "{{{{ outputs.sub.outputs.shout }}}}"\n',
        flow_id="parent",
    )
    execution_id = await harness.start(parent)
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    runs = await harness.runs(execution_id)
    child_id = runs["sub"].outputs["executionId"]  # type: ignore[index]
    child_execution = await harness.store.get_execution("main", child_id)
    assert child_execution is not None
    assert child_execution.parent_id == execution_id
    assert child_execution.outputs == {"shout": "hey!"}
    assert runs["after"].outputs == {"value": "hey!"}


async def test_retry_then_success(harness: Harness) -> None:
    source = flow(
        """
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 5
"""
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    run = (await harness.runs(execution_id))["flaky"]
    assert [a.state.current for a in run.attempts] == [S.FAILED, S.FAILED, S.SUCCESS]


async def test_timeout_fails_a_slow_task(harness: Harness) -> None:
    source = flow(
        f"  - id: nap\n    type: {FLOWS}.Sleep\n    duration: PT30S\n    timeout: PT0.1S\n"
    )
    execution_id = await harness.start(source)
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED


async def test_subflow_inputs_render_defaults_and_depends_on(harness: Harness) -> None:
    child = flow(
        f'  - id: c\n    type: {RET}\n    format: "{{{{ inputs.greeting }}}}"\n',
        "inputs:\n"
        "  - id: name\n    type: STRING\n"
        "  - id: greeting\n    type: STRING\n"
        '    defaults: "hi {{ inputs.name }}"\n'
        "    dependsOn:\n      inputs: [name]\n",
        flow_id="child2",
    )
    await harness.deploy(child)
    parent = flow(
        f"  - id: sub\n    type: {FLOWS}.Subflow\n    namespace: company.team\n"
        f"    flowId: child2\n    inputs:\n      name: ada\n",
        flow_id="parent2",
    )
    execution_id = await harness.start(parent)
    assert (await harness.wait_for(execution_id)).state.current is S.SUCCESS
    child_id = (await harness.runs(execution_id))["sub"].outputs["executionId"]  # type: ignore[index]
    child_runs = await harness.runs(child_id)
    assert child_runs["c"].outputs == {"value": "hi ada"}
