"""Interventions from outside on a live execution: ``pause`` and ``state`` (Kestra's "markAs").

``pause`` puts a RUNNING execution in PAUSED: task runs already running finish, but no new one
starts (:attr:`Work.is_holding`) until a ``resume``. ``state`` forces one task run to a terminal
state and reopens its flowable parents (RUNNING, so the walk recomputes them); a terminated
execution is reopened (RESTARTED, then RUNNING) and ends again from there, a paused one goes
on. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lanner.domain.executions import Attempt, TaskRun
from lanner.domain.labels import RESTARTED_LABEL, with_label
from lanner.domain.states import StateType
from lanner.engine import control
from lanner.engine.runs import STALE, is_stale
from lanner.engine.work import PAUSES, Work

S = StateType
_REOPENED_BRANCHES = ("errors", "finally", "afterExecution")


def pause(w: Work) -> None:
    """Pause a RUNNING execution from outside (other states: ignored)."""
    if w.execution.state.current is S.RUNNING:
        w.move_execution(S.PAUSED)


def mark_as(w: Work, payload: Mapping[str, Any]) -> None:
    """Force ``taskRunId`` to ``state`` (a terminal state) and recompute what follows."""
    run = w.runs.get(str(payload.get("taskRunId")))
    target = StateType.__members__.get(str(payload.get("state", "")).upper())
    current = w.execution.state.current
    if run is None or is_stale(run) or target is None or not target.is_terminated:
        return
    if current in (S.CREATED, S.QUEUED, S.KILLING) or run.state.current is target:
        return
    was_terminated = current.is_terminated
    spec = w.spec(run.task_id)
    if spec is not None and spec.type in PAUSES and run.state.current is S.PAUSED:
        if target is S.SUCCESS:
            control.resume_run(w, run, S.SUCCESS, {"onResume": {}})
        else:
            w.put(run.with_state(S.RUNNING, w.now).with_state(target, w.now))
    else:
        w.put(_forced(run, target, w))
    for parent in w.runs.ancestors(run):
        w.runs.cursors.pop(parent.id, None)  # an iteration's state changed: rescan
        if parent.state.current is not S.RUNNING:
            w.put(parent.with_state(S.RUNNING, w.now))
    if was_terminated:
        _reopen(w, {run.id, *(parent.id for parent in w.runs.ancestors(run))})
    elif current is S.PAUSED and not any(r.state.current is S.PAUSED for r in w.runs.active()):
        w.move_execution(S.RUNNING)


def _forced(run: TaskRun, target: StateType, w: Work) -> TaskRun:
    """The run in ``target``; its last attempt (if any) ends in ``target`` too."""
    if run.attempts:
        last = run.attempts[-1]
        attempt = Attempt(last.state.to(target, w.now), last.worker_id)
        run = replace(run, attempts=(*run.attempts[:-1], attempt))
    return run.with_state(target, w.now)


def _reopen(w: Work, kept: set[str]) -> None:
    """A terminated execution goes on: error/finally/afterExecution runs (but ``kept``) are
    done again."""
    for run in list(w.runs):
        if run.branch in _REOPENED_BRANCHES and not is_stale(run) and run.id not in kept:
            for superseded in (run, *w.runs.descendants(run.id)):
                w.put(replace(superseded, internal={**superseded.internal, STALE: True}))
    w.runs.cursors.clear()
    execution = w.execution.with_state(S.RESTARTED, w.now).with_state(S.RUNNING, w.now)
    w.set_execution(
        replace(execution, outputs={}, labels=with_label(execution.labels, RESTARTED_LABEL))
    )
