"""Behaviours the conformance runner found different from Kestra's tests, one test each."""

from __future__ import annotations

import asyncio

import pytest
from tests.engine.conftest import Harness

from lanner.domain.logs import LogLevel
from lanner.domain.states import StateType
from lanner.store import ExecutionQuery

pytestmark = pytest.mark.asyncio

SWITCH_WITHOUT_DEFAULTS = """\
id: switch-nothing
namespace: io.lanner.corpus
tasks:
  - id: choose
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ 'other' }}"
    cases:
      "NO":
        - id: never
          type: io.kestra.plugin.core.debug.Return
          format: never
"""

EACH_WITH_NULL = """\
id: each-with-null
namespace: io.lanner.corpus
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: '[1, null, {"key": "k"}]'
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
"""

TYPED_OUTPUTS = """\
id: typed-outputs
namespace: io.lanner.corpus
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ flow.id }}"
outputs:
  - id: text
    type: STRING
    value: "{{ outputs.ret }}"
  - id: items
    type: ARRAY
    value:
      - "{{ outputs.ret.value }}"
      - "two"
"""


async def test_a_switch_matching_no_case_without_defaults_fails(harness: Harness) -> None:
    """SwitchTest#switchImpossible, FailTest#failOnSwitch."""
    execution = await harness.run_flow(SWITCH_WITHOUT_DEFAULTS)
    assert execution.state.current is StateType.FAILED
    runs = await harness.runs(execution.id)
    assert list(runs) == ["choose"]
    errors = await harness.store.list_logs("main", execution.id, min_level=LogLevel.ERROR)
    assert any("No task defined for value 'other'" in e.message for e in errors)


async def test_for_each_refuses_null_values(harness: Harness) -> None:
    """EachSequentialTest#eachNull: the loop fails before running anything."""
    execution = await harness.run_flow(EACH_WITH_NULL)
    assert execution.state.current is StateType.FAILED
    assert list(await harness.runs(execution.id)) == ["each"]
    errors = await harness.store.list_logs("main", execution.id, min_level=LogLevel.ERROR)
    assert any(
        "Found '1' null values on Each, with values=[1, null, {key=k}]" in e.message for e in errors
    )


async def test_flow_outputs_string_is_text_and_array_keeps_items(harness: Harness) -> None:
    """FlowOutputTest: a STRING output of an object, an ARRAY output without itemType."""
    execution = await harness.run_flow(TYPED_OUTPUTS)
    assert execution.state.current is StateType.SUCCESS
    assert dict(execution.outputs or {}) == {
        "text": '{"value":"typed-outputs"}',
        "items": ["typed-outputs", "two"],
    }


WAIT_FOR = """\
id: wait-for-count
namespace: io.lanner.corpus
tasks:
  - id: waitfor
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.seen.value == '3' }}"
    tasks:
      - id: seen
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.waitfor.iterationCount }}"
"""


async def test_wait_for_counts_from_the_first_iteration_every_second(harness: Harness) -> None:
    """WaitForCaseTest: ``outputs.waitfor.iterationCount`` is 1, 2, 3 inside the iterations
    (0.20's WaitFor checks every second by default, not every minute)."""
    execution = await harness.run_flow(WAIT_FOR)
    assert execution.state.current is StateType.SUCCESS
    runs = await harness.store.list_task_runs(execution.id)
    seen = [(r.outputs or {}).get("value") for r in runs if r.task_id == "seen"]
    assert seen == ["1", "2", "3"]
    loop = next(r for r in runs if r.task_id == "waitfor")
    assert loop.outputs == {"iterationCount": 3}


UPSTREAM = """\
id: upstream
namespace: io.lanner.corpus.trigger
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: x
"""

LISTENER_WITH_REQUIRED_INPUT = """\
id: listener
namespace: io.lanner.corpus.trigger
inputs:
  - id: from-parent
    type: STRING
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs['from-parent'] ?? 'none' }}"
triggers:
  - id: listen
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: io.lanner.corpus.trigger
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS]
"""


async def test_a_flow_trigger_starts_a_flow_whose_required_input_it_does_not_give(
    harness: Harness,
) -> None:
    """FlowTriggerCaseTest#trigger (trigger-flow-listener-namespace-condition): Kestra's Flow
    trigger sets the rendered inputs unchecked, so the listener runs."""
    await harness.deploy(LISTENER_WITH_REQUIRED_INPUT)
    upstream = await harness.run_flow(UPSTREAM)
    assert upstream.state.current is StateType.SUCCESS
    query = ExecutionQuery(namespace="io.lanner.corpus.trigger", flow_id="listener")
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while not (found := (await harness.store.search_executions(query)).results):
        assert loop.time() < end, "the listener never started"
        await asyncio.sleep(0.05)
    listener = await harness.wait_for(found[0].id)
    assert listener.state.current is StateType.SUCCESS
    assert (await harness.runs(listener.id))["only"].outputs == {"value": "none"}


NESTED_CURRENT_OUTPUT = """\
id: nested-current-output
namespace: io.lanner.corpus
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: ["1", "2"]
        tasks:
          - id: made
            type: io.kestra.plugin.core.debug.Return
            format: "{{ parent.taskrun.value }}{{ taskrun.value }}"
          - id: read
            type: io.kestra.plugin.core.debug.Return
            format: "{{ currentEachOutput(outputs.made).value }}"
"""


async def test_current_each_output_in_nested_loops(harness: Harness) -> None:
    """CurrentEachOutputFunctionTest: ``parents`` as Kestra builds it (a parent without value
    nor outputs, the top ForEach run, is left out), so the lookup walks the loop values."""
    execution = await harness.run_flow(NESTED_CURRENT_OUTPUT)
    assert execution.state.current is StateType.SUCCESS
    runs = await harness.store.list_task_runs(execution.id)
    read = sorted((r.outputs or {}).get("value") for r in runs if r.task_id == "read")
    assert read == ["a1", "a2", "b1", "b2"]


WORKER_TASKRUN = """\
id: worker-taskrun
namespace: io.lanner.corpus
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["1"]
    tasks:
      - id: wd
        type: io.kestra.plugin.core.flow.WorkingDirectory
        tasks:
          - id: show
            type: io.kestra.plugin.core.debug.Return
            format: "{{ workerTaskrun.id }}|{{ workerTaskrun.value }}|{{ parent | json }}"
"""


async def test_working_directory_tasks_see_worker_taskrun(harness: Harness) -> None:
    """WorkingDirectoryTest#taskRunNested: ``workerTaskrun`` is the WorkingDirectory's run."""
    execution = await harness.run_flow(WORKER_TASKRUN)
    assert execution.state.current is StateType.SUCCESS
    runs = {r.task_id: r for r in await harness.store.list_task_runs(execution.id)}
    assert runs["show"].outputs == {"value": f'{runs["wd"].id}|1|{{"taskrun":{{"value":"1"}}}}'}


def sla_flow(behavior: str) -> str:
    return f"""\
id: sla-{behavior.lower()}
namespace: io.lanner.corpus
sla:
  - id: quick
    type: MAX_DURATION
    behavior: {behavior}
    duration: PT0.3S
    labels:
      sla: violated
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1.5S
"""


async def test_max_duration_sla_fails_or_labels_the_execution(harness: Harness) -> None:
    """SLATestCase#maxDurationSLAShouldFail; ``NONE`` only adds the labels."""
    failed = await harness.run_flow(sla_flow("FAIL"))
    assert failed.state.current is StateType.FAILED
    assert ("sla", "violated") in {(label.key, label.value) for label in failed.labels}
    assert (await harness.runs(failed.id))["nap"].state.current is StateType.FAILED
    labelled = await harness.run_flow(sla_flow("NONE"))
    assert labelled.state.current is StateType.SUCCESS
    assert ("sla", "violated") in {(label.key, label.value) for label in labelled.labels}
