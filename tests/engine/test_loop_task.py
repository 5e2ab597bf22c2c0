"""Kestra 2.0's ``flow.Loop`` end to end on the real store (both backends): values from a list,
a map or JSON text, ``concurrencyLimit``, the ``item`` variables, each iteration's isolated
outputs, the loop's outputs (declared ``outputs`` included), and bad properties."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.engine.conftest import Harness

from lanner.conformance.runner import Corpus
from lanner.domain.states import StateType
from lanner.engine import events as ev

S = StateType
LOOP = "io.kestra.plugin.core.flow.Loop"
RET = "io.kestra.plugin.core.debug.Return"
YAML = {"Content-Type": "application/x-yaml"}


def flow(flow_id: str, loop: str, after: str = "done") -> str:
    return f"""id: {flow_id}
namespace: company.team
tasks:
  - id: loop
    type: {LOOP}
{loop}  - id: after
    type: {RET}
    format: "{after}"
"""


async def test_list_values_item_variables_and_isolated_outputs(harness: Harness) -> None:
    loop = f"""    values: ["a", "b", "c"]
    tasks:
      - id: first
        type: {RET}
        format: "{{{{ item.value }}}}-{{{{ item.index }}}}"
      - id: check
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ item.value == 'b' }}}}"
        then:
          - id: nested
            type: {RET}
            format: "{{{{ outputs.first.value }}}}/{{{{ item.value }}}}/{{{{ tasks.first.state }}}}"
"""
    execution = await harness.run_flow(flow("loop_list", loop, "{{ outputs.loop.iterationCount }}"))
    assert execution.state.current is S.SUCCESS
    by_id = await harness.runs(execution.id)
    assert [by_id[f"first[{v}]"].outputs for v in "abc"] == [
        {"value": "a-0"}, {"value": "b-1"}, {"value": "c-2"},
    ]  # fmt: skip
    # nested in an If, the item is still the loop's and the outputs are the iteration's own
    assert by_id["nested[b]"].outputs == {"value": "b-1/b/SUCCESS"}
    assert "nested[a]" not in by_id
    assert by_id["loop"].outputs == {
        "iterationCount": 3, "runningIterations": 0, "terminatedIterations": {"SUCCESS": 3},
    }  # fmt: skip
    assert by_id["after"].outputs == {"value": "3"}


async def test_map_values_give_item_key_and_nested_loops_item_parent(harness: Harness) -> None:
    loop = f"""    values:
      north: 1
      south: {{"x": 2}}
    tasks:
      - id: show
        type: {RET}
        format: "{{{{ item.key }}}}={{{{ item.value }}}}@{{{{ item.index }}}}"
      - id: inner
        type: {LOOP}
        values: '["i", "j"]'
        tasks:
          - id: deep
            type: {RET}
            format: "{{{{ item.parent.key }}}}.{{{{ item.value }}}}.{{{{ item.parents[0].index }}}}"
"""
    execution = await harness.run_flow(flow("loop_map", loop))
    assert execution.state.current is S.SUCCESS
    runs = await harness.store.list_task_runs(execution.id)
    shown = sorted(r.outputs["value"] for r in runs if r.task_id == "show" and r.outputs)
    assert shown == ["north=1@0", 'south={"x":2}@1']
    deep = sorted(r.outputs["value"] for r in runs if r.task_id == "deep" and r.outputs)
    assert deep == ["north.i.0", "north.j.0", "south.i.1", "south.j.1"]


async def test_concurrency_limit_and_declared_outputs(harness: Harness) -> None:
    loop = f"""    values: [1, 2, 3, 4]
    concurrencyLimit: 2
    outputs:
      - id: label
        type: STRING
        value: "done {{{{ outputs.work.value }}}}"
      - id: number
        type: INT
        value: "{{{{ item.value }}}}"
    tasks:
      - id: work
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.05S
      - id: work2
        type: {RET}
        format: "{{{{ item.value }}}}"
"""
    source = flow("loop_limit", loop, "{{ outputs.loop.outputs[2].outputs.number }}")
    source = source.replace("outputs.work.value", "outputs.work2.value")
    execution = await harness.run_flow(source)
    assert execution.state.current is S.SUCCESS
    runs = await harness.store.list_task_runs(execution.id)
    sleeps = sorted((r for r in runs if r.task_id == "work"), key=lambda r: r.iteration or 0)
    assert len(sleeps) == 4
    # at most two iterations at once: the third starts only after one of the first two ended
    ends = sorted(r.state.end_date for r in sleeps[:2] if r.state.end_date)
    assert sleeps[2].state.start_date >= ends[0]
    assert sleeps[3].state.start_date >= ends[1]
    by_id = {r.task_id: r for r in runs if r.value is None}
    outputs = by_id["loop"].outputs
    assert outputs is not None
    assert outputs["outputs"] == [
        {
            "item": {"value": str(n), "iteration": n - 1},
            "outputs": {"label": f"done {n}", "number": n},
        }
        for n in (1, 2, 3, 4)
    ]
    assert by_id["after"].outputs == {"value": "3"}


async def test_a_failed_iteration_does_not_stop_the_others(harness: Harness) -> None:
    loop = f"""    values: ["ok", "bad", "ok2"]
    concurrencyLimit: 1
    tasks:
      - id: maybe
        type: io.kestra.plugin.core.execution.Fail
        runIf: "{{{{ item.value == 'bad' }}}}"
      - id: tail
        type: {RET}
        format: "{{{{ item.value }}}}"
"""
    execution = await harness.run_flow(flow("loop_fail", loop))
    assert execution.state.current is S.FAILED
    by_id = await harness.runs(execution.id)
    assert by_id["loop"].state.current is S.FAILED
    assert by_id["loop"].outputs is not None
    assert by_id["loop"].outputs["terminatedIterations"] == {"SUCCESS": 2, "FAILED": 1}
    assert by_id["tail[ok2]"].state.current is S.SUCCESS
    assert "after" not in by_id
    quiet = flow(
        "loop_quiet", loop.replace("    tasks:", "    transmitFailed: false\n    tasks:", 1)
    )
    execution = await harness.run_flow(quiet)
    assert execution.state.current is S.WARNING
    by_id = await harness.runs(execution.id)
    assert by_id["loop"].state.current is S.WARNING
    assert by_id["after"].state.current is S.SUCCESS


async def test_values_that_are_not_a_list_or_map_fail_with_the_reason(harness: Harness) -> None:
    loop = f"""    values: "{{{{ 'not json' }}}}"
    tasks:
      - id: never
        type: {RET}
        format: x
"""
    execution = await harness.run_flow(flow("loop_bad_values", loop))
    assert execution.state.current is S.FAILED
    by_id = await harness.runs(execution.id)
    assert by_id["loop"].state.current is S.FAILED
    logs = await harness.store.list_logs("main", execution.id)
    assert any("values must be a list or a map" in log.message for log in logs)


@pytest.fixture
async def corpus(tmp_path: Path, database_url: str) -> AsyncIterator[Corpus]:
    async with Corpus(tmp_path, tmp_path / "data", database_url) as running:
        yield running


@pytest.mark.asyncio
async def test_bad_properties_are_refused_at_save_naming_them(corpus: Corpus) -> None:
    tasks = f"    tasks:\n      - id: t\n        type: {RET}\n        format: x\n"
    for bad, field in (
        ("    values: [1]\n    concurrencyLimit: -1\n", "tasks[0].concurrencyLimit"),
        ("    values: [1]\n    breakWhen: '{{ true }}'\n", "tasks[0].breakWhen"),
        ("    values: [1]\n    outputs:\n      - id: o\n        type: NOPE\n        value: x\n",
         "tasks[0].outputs[0].type"),
        ("    values: [1]\n    concurrency: 2\n", "tasks[0].concurrency"),
    ):  # fmt: skip
        source = flow("loop_refused", bad + tasks)
        response = await corpus.http.post("/api/v1/flows", content=source, headers=YAML)
        assert response.status_code == 422, response.text
        assert field in response.text, response.text
    good = flow("loop_saved", "    values: [1]\n" + tasks)
    response = await corpus.http.post("/api/v1/flows", content=good, headers=YAML)
    assert response.status_code == 200, response.text


async def test_restart_reruns_the_failed_iteration_and_renders_outputs_again(
    harness: Harness,
) -> None:
    loop = """    values: ["x", "y"]
    outputs:
      - id: gate
        type: STRING
        value: "{{ tasks.gate.state }}"
    tasks:
      - id: gate
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ item.value == 'y' and taskrun.attemptsCount == 0 }}"
"""
    execution_id = await harness.start(flow("loop_restart", loop))
    assert (await harness.wait_for(execution_id)).state.current is S.FAILED
    await harness.send(execution_id, ev.RESTART, {})
    execution = await harness.wait_for(execution_id, S.SUCCESS)
    assert execution.attempt_number == 2
    by_id = await harness.runs(execution_id)
    outputs = by_id["loop"].outputs
    assert outputs is not None
    assert [entry["outputs"]["gate"] for entry in outputs["outputs"]] == ["SUCCESS", "SUCCESS"]
    assert outputs["terminatedIterations"] == {"SUCCESS": 2}
