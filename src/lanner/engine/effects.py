"""Changes a task asked of its execution, applied by the executor with the task's result.

Kestra runs its ``ExecutionUpdatableTask`` types (``Labels``, ``SetVariables``,
``UnsetVariables``, ``Exit``, ``Kill``, ``Resume``) inside the executor. Here the executor never
renders, so the worker runs them like any task: they render their properties and record what
the execution must become (``RunContext.update_execution``); the result carries it as
``effects`` (only when there are some: other tasks pay nothing) and :func:`apply` changes the
execution in the same step, so the change commits with the task run's end. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lanner.domain.executions import TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.labels import with_label
from lanner.domain.states import StateType
from lanner.engine import control
from lanner.engine import events as ev
from lanner.engine.work import Work
from lanner.store import NewEvent
from lanner.tasks.context import EXIT, KILL, LABELS, RESUME, SET_VARIABLES, UNSET_VARIABLES

S = StateType


def apply(
    w: Work, run: TaskRun, spec: TaskSpec | None, effects: Mapping[str, Any]
) -> StateType | None:
    """Apply ``effects`` of ``run`` (which succeeded); the state the run was ended in when an
    effect ends it (``Exit``, ``Kill`` of this execution), else None (the caller ends it)."""
    execution = w.execution
    labels = effects.get(LABELS)
    if isinstance(labels, list):
        merged = execution.labels
        for pair in labels:
            merged = with_label(merged, str(pair[0]), str(pair[1]))
        execution = replace(execution, labels=merged)
    to_set = effects.get(SET_VARIABLES)
    to_unset = effects.get(UNSET_VARIABLES)
    if isinstance(to_set, Mapping) or isinstance(to_unset, list):
        variables = dict(execution.variables or w.flow.variables or {})
        if isinstance(to_set, Mapping):
            variables = deep_merge(variables, to_set)
        for name in to_unset or ():
            variables = without(variables, str(name).split("."))
        execution = replace(execution, variables=variables)
    w.set_execution(execution)
    resume = effects.get(RESUME)
    if isinstance(resume, Mapping):
        resumed = str(resume.get("executionId"))
        w.events.append(NewEvent(resumed, ev.RESUME, {"inputs": dict(resume.get("inputs") or {})}))
    kill = effects.get(KILL)
    if isinstance(kill, Mapping):
        target = kill.get("executionId")
        propagate = kill.get("propagate") is True
        if isinstance(target, str) and target != execution.id:
            w.events.append(NewEvent(target, ev.KILL, {"cascade": propagate}))
        else:
            w.put(run.with_state(S.KILLED, w.now))
            control.kill(w, {"cascade": propagate})
            return S.KILLED
    exit_state = effects.get(EXIT)
    if isinstance(exit_state, str):
        state = S(exit_state)
        w.put(run.with_state(state, w.now))
        if state is S.KILLED:
            control.kill(w, {"cascade": False})
            return state
        for parent in w.runs.ancestors(run):
            if not parent.state.current.is_terminated:
                w.put(parent.with_state(state, w.now))
        return state
    return None


def deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes``: maps present in both are merged, other values replaced."""
    merged = dict(base)
    for key, value in changes.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def without(variables: Mapping[str, Any], path: list[str]) -> dict[str, Any]:
    """``variables`` without the entry at ``path`` (nested maps copied on the way)."""
    head, *rest = path
    copy = dict(variables)
    if not rest:
        copy.pop(head, None)
    elif isinstance(copy.get(head), Mapping):
        copy[head] = without(copy[head], rest)
    return copy
