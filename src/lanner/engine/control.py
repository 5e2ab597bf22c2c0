"""Control events of the executor: kill, restart, pause/resume and subflow ends.

Each function applies one event to a :class:`Work`; the flowable walk (``progress.py``) then
moves on from the new state. Pure: no I/O, no clock (times come from ``Work.now``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from lanner.domain.executions import TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.labels import RESTARTED_LABEL, with_label
from lanner.domain.states import StateType
from lanner.domain.times import seconds_of
from lanner.engine import events as ev
from lanner.engine import for_each_item as fei
from lanner.engine import loops
from lanner.engine.runs import STALE, is_stale
from lanner.engine.work import SUBFLOW, Work, effective_state
from lanner.store import NewEvent

S = StateType
_REDO = (S.FAILED, S.KILLED, S.PAUSED, S.CANCELLED)


# -- kill --------------------------------------------------------------------------------------


def kill(w: Work, payload: Mapping[str, Any]) -> None:
    """KILLING: no new task runs; paused and retrying runs end KILLED at once, running ones when
    their worker reports; subflow children get their own kill when ``cascade``."""
    current = w.execution.state.current
    if current.is_terminated or current is S.KILLING:
        return
    w.move_execution(S.KILLING)
    cascade = payload.get("cascade", True) is not False
    for run in w.runs.active():
        if run.state.current in (S.PAUSED, S.RETRYING, S.CREATED, S.RESTARTED):
            w.put(run.with_state(S.KILLED, w.now))
        child_ids = [run.internal.get("childId"), *(run.internal.get("childIds") or ())]
        ended = run.internal.get("ended") or {}
        for child_id in child_ids:
            if cascade and isinstance(child_id, str) and child_id not in ended:
                w.events.append(NewEvent(child_id, ev.KILL, {"cascade": True}))


# -- restart -----------------------------------------------------------------------------------


def restart(w: Work, payload: Mapping[str, Any]) -> None:
    """Rerun the failed task runs (or ``taskRunId`` and every run after it) in place."""
    current = w.execution.state.current
    if not (current.is_terminated or current.is_paused):
        return
    target_id = payload.get("taskRunId")
    runs = [run for run in w.runs if not is_stale(run)]
    if isinstance(target_id, str) and w.runs.get(target_id) is not None:
        target = w.runs.get(target_id)
        assert target is not None
        position = next(i for i, run in enumerate(runs) if run.id == target_id)
        redo = [target]
        later = runs[position + 1 :]
    else:
        redo = [run for run in runs if run.state.current in _REDO]
        later = [run for run in runs if run.branch in ("errors", "finally", "afterExecution")]
        if not redo:
            return
    ancestors: dict[str, TaskRun] = {}
    for run in redo:
        for parent in w.runs.ancestors(run):
            ancestors[parent.id] = parent
    leaves = [run for run in redo if run.id not in ancestors]
    stale: dict[str, TaskRun] = {}
    for run in leaves:
        stale[run.id] = run.with_state(S.RESTARTED, w.now)
    for run in [*later, *(d for leaf in leaves for d in w.runs.descendants(leaf.id))]:
        if run.id not in ancestors and run.id not in stale:
            stale[run.id] = run
    for run in stale.values():
        w.put(replace(run, internal={**run.internal, STALE: True}))
    for parent in ancestors.values():
        # a Loop renders its declared outputs again once its iterations end anew
        internal = {k: v for k, v in parent.internal.items() if k not in loops.END_KEYS}
        w.put(replace(parent, internal=internal).with_state(S.RUNNING, w.now))
    w.runs.cursors.clear()
    execution = w.execution.with_state(S.RESTARTED, w.now).with_state(S.RUNNING, w.now)
    w.set_execution(
        replace(
            execution,
            attempt_number=w.execution.attempt_number + 1,
            outputs={},
            labels=with_label(execution.labels, RESTARTED_LABEL),
        )
    )


# -- pause / resume ----------------------------------------------------------------------------


def pause(w: Work, run: TaskRun, spec: TaskSpec) -> TaskRun:
    """Put a started Pause task run (and the execution) in PAUSED, with its timer if any."""
    delay = seconds_of(run.internal.get("delay", spec.properties.get("delay")))
    duration = seconds_of(run.internal.get("pauseDuration", spec.properties.get("pauseDuration")))
    timeout = seconds_of(run.internal.get("timeout", spec.properties.get("timeout")))
    run = replace(run, internal={**run.internal, "paused": True})
    run = w.put(run.with_state(S.PAUSED, w.now))
    wait = next((s for s in (delay, duration, timeout) if s is not None), None)
    if wait is not None:
        w.timer(run, ev.TIMER_PAUSE, w.now + timedelta(seconds=wait), 0)
    if w.execution.state.current is S.RUNNING:
        w.move_execution(S.PAUSED)
    return run


def resume(w: Work, payload: Mapping[str, Any]) -> None:
    """Resume every PAUSED Pause task run; the submitted inputs become its ``onResume``."""
    if w.execution.state.current is not S.PAUSED:
        return
    inputs = payload.get("inputs") or {}
    for run in w.runs.active():
        if run.state.current is S.PAUSED:
            resume_run(w, run, S.SUCCESS, {"onResume": dict(inputs)})
    w.move_execution(S.RUNNING)


def resume_run(w: Work, run: TaskRun, end: StateType, outputs: Mapping[str, Any]) -> None:
    spec = w.spec(run.task_id)
    run = replace(run, outputs=dict(outputs), internal={**run.internal, "resumed": True})
    run = run.with_state(S.RUNNING, w.now)
    if spec is not None and spec.branch("tasks") and end is S.SUCCESS:
        w.put(run)  # the deprecated Pause ``tasks`` run now, see progress.settle
    else:
        w.put(run.with_state(end, w.now))


def pause_elapsed(w: Work, run: TaskRun, spec: TaskSpec) -> None:
    """A Pause's delay or timeout elapsed: resume, or end as its ``behavior`` says."""
    if run.state.current is not S.PAUSED:
        return
    behavior = str(spec.properties.get("behavior") or "RESUME").upper()
    has_delay = spec.properties.get("delay") is not None or run.internal.get("delay") is not None
    if spec.properties.get("pauseDuration") is None and not has_delay:
        behavior = "FAIL"  # 0.20 ``timeout``: the pause fails unless resumed in time
    end = {"RESUME": S.SUCCESS, "WARN": S.WARNING, "FAIL": S.FAILED, "CANCEL": S.CANCELLED}.get(
        behavior, S.SUCCESS
    )
    if end is S.SUCCESS:
        resume_run(w, run, S.SUCCESS, {"onResume": {}})
    else:
        w.put(run.with_state(S.RUNNING, w.now).with_state(effective_state(end, spec), w.now))
    if w.execution.state.current is S.PAUSED:
        w.move_execution(S.RUNNING)


# -- subflows ----------------------------------------------------------------------------------


def child_ended(w: Work, payload: Mapping[str, Any]) -> None:
    """The child execution of a Subflow task run ended: the run ends with it."""
    run = w.runs.get(str(payload.get("taskRunId")))
    if run is None or run.state.current.is_terminated:
        return
    if run.internal.get("childId") is None and run.internal.get("childIds") is None:
        # The child ended before the worker's result naming it came in (a fast child, many
        # children to submit): kept, and replayed when that result arrives (executor.py).
        early = [*(run.internal.get("earlyChildren") or ()), dict(payload)]
        w.put(replace(run, internal={**run.internal, "earlyChildren": early}))
        return
    if run.internal.get("childIds") is not None:  # ForEachItem's items: one child of many
        run, end = fei.child_ended(run, w.spec(run.task_id), payload)
        w.put(run)
        if end is not None:
            w.finish(run, end, w.spec(run.task_id))
        return
    if run.internal.get("childId") != payload.get("executionId"):
        return
    spec = w.spec(run.task_id)
    child_state = S(str(payload.get("state")))
    transmit = spec is None or spec.properties.get("transmitFailed", True) is not False
    state = (
        child_state if transmit and child_state in (S.FAILED, S.KILLED, S.WARNING) else S.SUCCESS
    )
    if child_state in (S.CANCELLED, S.RETRIED) and transmit:  # RETRIED: as it ended before
        state = S.FAILED
    outputs = {
        "executionId": payload.get("executionId"),
        "state": child_state.value,
        "outputs": payload.get("outputs") or {},
    }
    run = replace(run, outputs=outputs)
    w.finish(run, state, spec)


def is_subflow(spec: TaskSpec) -> bool:
    return spec.type == SUBFLOW
