"""The Pebble run context of a task run, as plain data (reference §8).

``flow``, ``execution``, ``task``, ``taskrun``, ``parent``/``parents``, ``inputs``, ``outputs``
(nested by the values of the loops around a task: ``outputs.t[value].x``), ``tasks`` (states,
nested the same way), ``trigger``, ``vars``, ``labels`` (a map; ``system.*`` nested), ``envs``
(``KESTRA_*`` environment, prefix removed, lower-cased) and ``globals``.
Pure: the environment is passed in. Imports the domain and this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lanner.domain.executions import Execution, TaskRun, final_state
from lanner.domain.flows import Flow, TaskSpec
from lanner.domain.inputs import InputType
from lanner.domain.states import StateType
from lanner.domain.times import format_instant
from lanner.engine import loops
from lanner.engine.runs import RunIndex, is_stale
from lanner.engine.work import LOOPS, WORKING_DIRECTORY

ENV_PREFIX = "KESTRA_"


def kestra_envs(environ: Mapping[str, str]) -> dict[str, str]:
    """``KESTRA_FOO_BAR`` → ``foo_bar``."""
    return {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX)
    }


def labels_map(execution: Execution) -> dict[str, Any]:
    labels: dict[str, Any] = {}
    for label in execution.labels:
        if label.is_system:
            labels.setdefault("system", {})[label.key.split(".", 1)[1]] = label.value
        labels[label.key] = label.value
    return labels


def flow_inputs(
    flow: Flow, execution: Execution, decrypt: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """The execution's inputs, with the flow's input defaults for absent ones; SECRET inputs
    (stored encrypted) are decrypted with ``decrypt`` when given."""
    inputs = dict(execution.inputs)
    for spec in flow.inputs:
        if decrypt is not None and spec.type is InputType.SECRET:
            _decrypt_at(inputs, spec.id.split("."), decrypt)
        if spec.id not in inputs and "." not in spec.id and spec.has_defaults:
            inputs[spec.id] = spec.defaults
    return inputs


def _decrypt_at(inputs: dict[str, Any], path: list[str], decrypt: Callable[[str], str]) -> None:
    head, *rest = path
    value = inputs.get(head)
    if rest:
        if isinstance(value, Mapping):
            child = dict(value)
            _decrypt_at(child, rest, decrypt)
            inputs[head] = child
    elif isinstance(value, str):
        inputs[head] = decrypt(value)


def loop_task_ids(specs: Mapping[str, TaskSpec]) -> frozenset[str]:
    return frozenset(task_id for task_id, spec in specs.items() if spec.type in LOOPS)


def outputs_and_states(
    runs: RunIndex, specs: Mapping[str, TaskSpec]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``outputs`` and ``tasks`` of the context, from every (non-stale) task run.

    These are the index's live trees (kept up to date as runs change, so a ForEach over
    10,000 values does not rebuild them per task): render at once, or copy them first.
    """
    return runs.context_trees(loop_task_ids(specs))


def execution_state(execution: Execution, runs: Iterable[TaskRun]) -> StateType:
    """``execution.state``: while ``afterExecution`` tasks run, the state already reached."""
    current = execution.state.current
    if current.is_terminated or current is not StateType.RUNNING:
        return current
    roots = [
        run.state.current
        for run in runs
        if run.parent_task_run_id is None
        and run.branch in ("tasks", "errors", "finally")
        and not is_stale(run)
    ]
    if roots and all(state.is_terminated for state in roots):
        return final_state(roots)
    return current


def build_context(
    flow: Flow,
    execution: Execution,
    runs: RunIndex,
    specs: Mapping[str, TaskSpec],
    run: TaskRun | None = None,
    *,
    envs: Mapping[str, str] | None = None,
    globals_: Mapping[str, Any] | None = None,
    decrypt: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The variables a template of ``run`` (or of the flow, when None) sees; ``decrypt``
    turns SECRET inputs back into clear text."""
    outputs, states = outputs_and_states(runs, specs)
    has_after = any(r.branch == "afterExecution" for r in ([run] if run else []))
    state = execution_state(execution, runs) if has_after else execution.state.current
    context: dict[str, Any] = {
        "flow": {
            "id": flow.id,
            "namespace": flow.namespace,
            "revision": execution.flow_revision,
            "tenantId": execution.tenant_id,
        },
        "execution": {
            "id": execution.id,
            "startDate": format_instant(execution.state.start_date),
            "originalId": execution.original_id or execution.id,
            "state": state.value,
        },
        "inputs": flow_inputs(flow, execution, decrypt),
        "outputs": outputs,
        "tasks": states,
        "vars": dict(execution.variables or flow.variables or {}),
        "labels": labels_map(execution),
        "envs": dict(envs or {}),
        "globals": dict(globals_ or {}),
    }
    if execution.trigger is not None:
        context["trigger"] = dict(execution.trigger.variables)
    if run is not None:
        spec = specs.get(run.task_id)
        context["task"] = {"id": run.task_id, "type": spec.type if spec else ""}
        context["taskrun"] = _taskrun(run)
        ancestors = runs.ancestors(run)
        parents = [entry for entry in map(_parent_entry, ancestors) if entry]
        # Kestra: the tasks of a WorkingDirectory also see its task run as ``workerTaskrun``.
        holder = next(
            (a for a in ancestors if (s := specs.get(a.task_id)) and s.type == WORKING_DIRECTORY),
            None,
        )
        if holder is not None:
            context["workerTaskrun"] = _taskrun(holder)
        if parents:
            context["parents"] = parents
            context["parent"] = parents[0]
        chain = loops.enclosing(runs, specs, run)
        item = loops.item_variable(chain, specs) if chain else None
        if item is not None:  # inside a Loop: its ``item``, its iteration's outputs and states
            context["item"] = item
            context["outputs"] = loops.isolate(outputs, chain, specs)
            context["tasks"] = loops.isolate(states, chain, specs)
    return context


def _parent_entry(parent: TaskRun) -> dict[str, Any]:
    """One ``parents`` item as Kestra makes it: ``taskrun.value`` only when the parent has a
    value, ``outputs`` only when it has some; a parent with neither is left out."""
    entry: dict[str, Any] = {}
    if parent.value is not None:
        entry["taskrun"] = {"value": parent.value}
    if parent.outputs:
        entry["outputs"] = dict(parent.outputs)
    return entry


def _taskrun(run: TaskRun) -> dict[str, Any]:
    """The ``taskrun`` variable of ``run``."""
    taskrun: dict[str, Any] = {
        "id": run.id,
        "startDate": format_instant(run.state.start_date),
        "attemptsCount": len(run.attempts),
        "parentId": run.parent_task_run_id,
    }
    if run.value is not None:
        taskrun["value"] = run.value
    if run.iteration is not None:
        taskrun["iteration"] = run.iteration
    return taskrun
