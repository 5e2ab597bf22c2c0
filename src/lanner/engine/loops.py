"""Kestra 2.0's ``flow.Loop``, run in place: the decisions at its end and its ``item`` variables.

Kestra runs each iteration of a Loop as its own sub-execution (an isolated context) and
aggregates their states. Here iterations are task-run groups of the same execution, like ForEach
(:func:`lanner.engine.progress.run_loop`), and the isolation is in the run context instead:
a task inside an iteration sees ``item`` (``value``, ``index``, ``key`` for a map, ``parent`` and
``parents`` for the loops around it) and the outputs and states of its iteration's tasks without
the value index (``outputs.process.value``). At the end the loop's outputs are those of Kestra
(``iterationCount``, ``runningIterations``, ``terminatedIterations`` and, when the task declares
``outputs``, one ``{item, outputs}`` entry per iteration, rendered in that iteration's context by
a ``resolve`` job with ``collect``). Pure: no I/O, no clock. Imports the domain and this package.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from lanner.domain.executions import TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.runs import RunIndex, is_stale, merge_states
from lanner.engine.work import LOOP, LOOPS, Work

S = StateType

COLLECTING = "collecting"
COLLECTED = "collected"
KEYS = "keys"
"""``internal`` keys: the collect job is queued; its rendered per-iteration outputs; the map
keys of the values (absent for a list)."""
END_KEYS = frozenset({COLLECTING, COLLECTED})
"""What a restart forgets (the iterations it reruns change the outputs)."""


def ended(w: Work, run: TaskRun, spec: TaskSpec, states: Sequence[StateType]) -> StateType | None:
    """Every iteration is over: the loop's state and outputs, or None while outputs render."""
    run = w.runs.get(run.id) or run
    declared = spec.properties.get("outputs")
    outputs: dict[str, Any] = summary(run, states)
    if declared and not w.is_killing and COLLECTED not in run.internal:
        if not run.internal.get(COLLECTING):
            w.job(run, ev.JOB_RESOLVE, {"taskId": spec.id, "attempt": 1, "collect": True})
            w.put(replace(run, internal={**run.internal, COLLECTING: True}))
        return None
    collected = run.internal.get(COLLECTED)
    if isinstance(collected, Mapping) and collected.get("error") is not None:
        w.put(replace(run, outputs=outputs))
        return S.FAILED
    if isinstance(collected, Mapping):
        outputs["outputs"] = list(collected.get("outputs") or ())
    w.put(replace(run, outputs=outputs))
    state = merge_states(list(states))
    if spec.properties.get("transmitFailed") is False and state in (S.FAILED, S.KILLED):
        return S.WARNING  # a failed iteration does not fail the loop (killing still kills it)
    return state


def summary(run: TaskRun, states: Sequence[StateType]) -> dict[str, Any]:
    values = run.internal.get("values") or ()
    return {
        "iterationCount": len(values),
        "runningIterations": 0,
        "terminatedIterations": dict(Counter(state.value for state in states)),
    }


def collected(w: Work, run: TaskRun, payload: Mapping[str, Any]) -> None:
    """The collect job rendered the declared outputs of every iteration (or failed to)."""
    if COLLECTED in run.internal:
        return
    if payload.get("error") is not None:
        result: dict[str, Any] = {"error": str(payload["error"])}
    else:
        result = {"outputs": list(payload.get("outputs") or ())}
    w.put(replace(run, internal={**run.internal, COLLECTED: result}))


def loop_item(run: TaskRun, index: int) -> dict[str, Any]:
    """Kestra's ``LoopItem`` of iteration ``index``: value, iteration and (for a map) key."""
    values = list(run.internal.get("values") or ())
    keys = run.internal.get(KEYS)
    item: dict[str, Any] = {"value": values[index] if index < len(values) else None}
    item["iteration"] = index
    if isinstance(keys, list) and index < len(keys):
        item["key"] = keys[index]
    return item


def iterations(runs: RunIndex, loop: TaskRun) -> list[tuple[int, TaskRun | None]]:
    """Each iteration's index and its first task run (the one whose context renders it)."""
    first: dict[int, TaskRun] = {}
    for child in runs.children(loop.id):
        if child.iteration is not None and child.iteration not in first and not is_stale(child):
            first[child.iteration] = child
    count = len(loop.internal.get("values") or ())
    return [(index, first.get(index)) for index in range(count)]


# -- the run context inside a Loop ------------------------------------------------------------


def enclosing(
    runs: RunIndex, specs: Mapping[str, TaskSpec], run: TaskRun
) -> list[tuple[TaskRun, TaskRun]]:
    """The loops (any of :data:`LOOPS`) around ``run``, outermost first, each with the run of
    its iteration that contains ``run`` (its direct child on the chain)."""
    chain: list[tuple[TaskRun, TaskRun]] = []
    below = run
    for parent in runs.ancestors(run):
        spec = specs.get(parent.task_id)
        if spec is not None and spec.type in LOOPS:
            chain.append((parent, below))
        below = parent
    chain.reverse()
    return chain


def item_variable(
    chain: Sequence[tuple[TaskRun, TaskRun]], specs: Mapping[str, TaskSpec]
) -> dict[str, Any] | None:
    """``item`` for a task whose loops are ``chain``: its innermost Loop's item, with
    ``parent``/``parents`` (closest first) for the Loops around that one."""
    items = [
        _item(loop, child)
        for loop, child in chain
        if (spec := specs.get(loop.task_id)) is not None and spec.type == LOOP
    ]
    if not items:
        return None
    current = dict(items[-1])
    outer = list(reversed(items[:-1]))
    if outer:
        current["parent"] = outer[0]
        current["parents"] = outer
    return current


def _item(loop: TaskRun, child: TaskRun) -> dict[str, Any]:
    index = child.iteration if child.iteration is not None else 0
    item: dict[str, Any] = {"value": child.value, "index": index}
    keys = loop.internal.get(KEYS)
    if isinstance(keys, list) and index < len(keys):
        item["key"] = keys[index]
    return item


def isolate(
    tree: Mapping[str, Any],
    chain: Sequence[tuple[TaskRun, TaskRun]],
    specs: Mapping[str, TaskSpec],
) -> dict[str, Any]:
    """``outputs`` (or ``tasks``) as an iteration sees it: for the tasks inside a Loop around
    the run, the level of that Loop's values is replaced by the current iteration's entry (the
    levels of ForEach loops stay, as ForEach templates index them)."""
    result = dict(tree)
    levels: list[tuple[bool, str | None, frozenset[str]]] = []
    for loop, child in chain:
        spec = specs.get(loop.task_id)
        inside = frozenset(s.id for s in spec.walk() if s.id != spec.id) if spec else frozenset()
        levels.append((spec is not None and spec.type == LOOP, child.value, inside))
    if not any(is_loop for is_loop, _, _ in levels):
        return result
    for task_id in tree:
        mine = [(is_loop, value) for is_loop, value, inside in levels if task_id in inside]
        if not any(is_loop for is_loop, _ in mine):
            continue
        peeled = _peel(tree[task_id], mine)
        if peeled is None:
            del result[task_id]
        else:
            result[task_id] = peeled
    return result


def _peel(node: Any, levels: Sequence[tuple[bool, str | None]]) -> Any:
    if not levels:
        return node
    if not isinstance(node, Mapping):
        return None
    (is_loop, value), rest = levels[0], levels[1:]
    if is_loop:
        return _peel(node[value], rest) if value in node else None
    kept = {key: _peel(child, rest) for key, child in node.items()}
    return {key: child for key, child in kept.items() if child is not None}
