"""The Pebble run context built for a task run."""

from __future__ import annotations

from tests.unit.engine.sim import Sim
from tests.unit.engine.test_executor import FLOWS, RET, flow

from lanner.domain.labels import Label
from lanner.engine.context import build_context, kestra_envs
from lanner.engine.executor import task_specs
from lanner.engine.runs import RunIndex

NESTED = flow(
    f"""
  - id: outer
    type: {FLOWS}.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: {FLOWS}.ForEach
        values: [1, 2]
        tasks:
          - id: leaf
            type: {RET}
            format: x
  - id: top
    type: {RET}
    format: y
""",
    "variables:\n  greeting: hi\n",
)


def test_envs_keep_only_kestra_variables_lower_cased() -> None:
    assert kestra_envs({"KESTRA_FOO_BAR": "1", "HOME": "/root", "KESTRA_": "x"}) == {"foo_bar": "1"}


def _finished_nested() -> Sim:
    sim = Sim(
        NESTED.replace("tasks:\n  - id: outer", "tasks:\n  - id: outer"),
        answers={
            "leaf": lambda run: ("SUCCESS", {"value": f"{run.value}"}),
            "top": ("SUCCESS", {"value": "y"}),
        },
        resolutions={"outer": {"values": ["a", "b"]}, "inner": {"values": ["1", "2"]}},
    )
    sim.drain()
    return sim


def test_outputs_are_nested_by_every_enclosing_loop_value() -> None:
    sim = _finished_nested()
    runs = RunIndex(sim.runs.values())
    context = build_context(sim.flow, sim.execution, runs, task_specs(sim.flow))
    assert context["outputs"]["leaf"] == {
        "a": {"1": {"value": "1"}, "2": {"value": "2"}},
        "b": {"1": {"value": "1"}, "2": {"value": "2"}},
    }
    assert context["outputs"]["top"] == {"value": "y"}
    assert context["tasks"]["top"] == {"state": "SUCCESS"}
    assert context["tasks"]["leaf"]["b"]["2"] == {"state": "SUCCESS"}


def test_task_run_variables_and_parents() -> None:
    sim = _finished_nested()
    runs = RunIndex(sim.runs.values())
    leaf = next(
        r
        for r in sim.runs.values()
        if r.task_id == "leaf" and r.value == "2" and runs.ancestors(r)[0].value == "b"
    )
    context = build_context(sim.flow, sim.execution, runs, task_specs(sim.flow), leaf)
    assert context["task"] == {"id": "leaf", "type": f"{RET}"}
    assert context["taskrun"]["value"] == "2"
    assert context["taskrun"]["iteration"] == 1
    assert context["taskrun"]["attemptsCount"] == 1
    assert context["taskrun"]["parentId"] == leaf.parent_task_run_id
    # Kestra's ``parents``: ``taskrun`` only for a parent with a value, ``outputs`` only with
    # some, a parent with neither left out (the outer ForEach run here).
    assert context["parents"] == [{"taskrun": {"value": "b"}}]
    assert context["parent"] == context["parents"][0]
    assert context["flow"] == {
        "id": "f",
        "namespace": "company.team",
        "revision": 1,
        "tenantId": "main",
    }
    assert context["execution"]["id"] == sim.execution.id
    assert context["execution"]["startDate"] == "2026-01-01T00:00:00Z"
    assert context["vars"] == {"greeting": "hi"}


def test_labels_inputs_and_trigger() -> None:
    from dataclasses import replace

    from lanner.domain.executions import ExecutionTrigger

    sim = Sim(flow(f"  - id: a\n    type: {RET}\n    format: x\n",
                   "inputs:\n  - id: n\n    type: INT\n    defaults: 3\n"))  # fmt: skip
    execution = replace(
        sim.execution,
        labels=(Label("team", "data"), Label("system.correlationId", "c1")),
        trigger=ExecutionTrigger("t", "io.kestra.plugin.core.trigger.Webhook", {"body": {"k": 1}}),
    )
    context = build_context(sim.flow, execution, RunIndex(), task_specs(sim.flow))
    assert context["labels"]["team"] == "data"
    assert context["labels"]["system"] == {"correlationId": "c1"}
    assert context["inputs"] == {"n": 3}
    assert context["trigger"] == {"body": {"k": 1}}
