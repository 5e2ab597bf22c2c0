"""``flow.LoopUntil`` (0.20 ``WaitFor``): run ``tasks`` again until ``condition`` is truthy.

Iteration ``k`` runs the children in order, their task runs carrying ``iteration`` ``k`` (and
the loop run's ``value``, so outputs inside a ForEach stay indexed). When it ends without a
failure, a worker renders the condition — a ``resolve`` job with ``check`` and ``attempt``
``k + 1``, the way an If's condition is rendered — and answers with a ``resolved`` event.
Truthy: the loop succeeds. Otherwise, once ``checkFrequency.maxIterations`` iterations ran or
``maxDuration`` elapsed since the loop started, it ends FAILED with ``failOnMaxReached``, else
SUCCESS; if not, the next iteration starts after ``interval`` (a ``loop`` timer; at once when
zero). Output ``iterationCount``: the current iteration's number (from 1), as Kestra
sets it before each iteration, so the children can read it. A failed child fails the loop (then its ``errors`` run).
Pure: no I/O, no clock. The walk of the children (``progress.settle``) is handed in, so this
module sits below ``progress`` and never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from lanner.domain.executions import TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.states import StateType
from lanner.domain.times import seconds_of
from lanner.engine import events as ev
from lanner.engine.runs import is_stale, merge_states
from lanner.engine.work import Work

S = StateType

DEFAULT_MAX_ITERATIONS = 100
DEFAULT_MAX_DURATION_S = 3600.0
DEFAULT_INTERVAL_S = 60.0
"""Kestra 1.x defaults (0.20's ``WaitFor`` checked every second)."""
WAIT_FOR_INTERVAL_S = 1.0
"""A flow naming the 0.20 type ``WaitFor`` gets that version's default interval."""

ITERATION = "iteration"
"""``internal`` keys: the current iteration, the iteration whose condition is being rendered,
the iteration the last rendered condition belongs to and its value, the iteration after which a
``loop`` timer waits."""
CHECKING = "checking"
CHECKED = "checked"
CONDITION = "condition"
WAITING = "waiting"
_STOPPING = (S.FAILED, S.KILLED, S.CANCELLED, S.RETRIED)

Settle = Callable[[Work, TaskRun, TaskSpec], TaskRun]
"""Advance an open (flowable) child run; returns it as it now stands."""


def run_until(w: Work, run: TaskRun, spec: TaskSpec, settle: Settle) -> StateType | None:
    """The loop's main part: its terminal state, or None while it goes on."""
    k = int(run.internal.get(ITERATION, 0))
    if run.outputs is None:  # as Kestra: ``iterationCount`` is 1 from the first iteration on
        run = _update(w, run, {}, k + 1)
    state = _iteration(w, run, spec, k, settle)
    if state is None:
        return None
    if state in _STOPPING:
        return state
    if w.is_killing:
        return S.KILLED
    run = w.runs.get(run.id) or run
    if run.internal.get(CHECKED) != k:
        if run.internal.get(CHECKING) != k:
            w.job(run, ev.JOB_RESOLVE, {"taskId": spec.id, "attempt": k + 1, "check": True})
            _update(w, run, {CHECKING: k}, k + 1)
        return None
    if run.internal.get(CONDITION):
        return S.SUCCESS
    frequency = _frequency(spec)
    max_iterations = _int(frequency.get("maxIterations"), DEFAULT_MAX_ITERATIONS)
    max_duration = _seconds_or(frequency.get("maxDuration"), DEFAULT_MAX_DURATION_S)
    elapsed = (w.now - run.state.start_date).total_seconds()
    if k + 1 >= max_iterations or elapsed >= max_duration:
        return S.FAILED if spec.properties.get("failOnMaxReached") is True else S.SUCCESS
    if w.is_holding:
        return None
    legacy = spec.source_type.rsplit(".", 1)[-1] == "WaitFor"
    interval = _seconds_or(
        frequency.get("interval"), WAIT_FOR_INTERVAL_S if legacy else DEFAULT_INTERVAL_S
    )
    if interval <= 0:
        _update(w, run, {ITERATION: k + 1}, k + 2)
        return run_until(w, w.runs.get(run.id) or run, spec, settle)
    if run.internal.get(WAITING) != k:
        w.timer(run, ev.TIMER_LOOP, w.now + timedelta(seconds=interval), k)
        _update(w, run, {WAITING: k}, k + 1)
    return None


def checked(w: Work, run: TaskRun, spec: TaskSpec | None, payload: Mapping[str, Any]) -> None:
    """A worker rendered the condition of iteration ``attempt - 1``."""
    k = run.internal.get(CHECKING)
    if not isinstance(k, int) or payload.get("attempt") != k + 1 or run.internal.get(CHECKED) == k:
        return
    if payload.get("error") is not None:
        w.finish(run, S.FAILED, spec)
        return
    _update(w, run, {CHECKED: k, CONDITION: bool(payload.get("condition"))}, k + 1)


def next_iteration(w: Work, run: TaskRun, k: int) -> None:
    """The ``interval`` after iteration ``k`` elapsed: start iteration ``k + 1``."""
    if run.state.current is not S.RUNNING or w.is_killing:
        return
    if run.internal.get(ITERATION, 0) == k and run.internal.get(WAITING) == k:
        _update(w, run, {ITERATION: k + 1}, k + 2)


def _iteration(w: Work, loop: TaskRun, spec: TaskSpec, k: int, settle: Settle) -> StateType | None:
    states: list[StateType] = []
    for child in (child for child in spec.branch("tasks") if not child.is_disabled):
        run = w.runs.find(loop.id, child.id, k)
        if run is None or is_stale(run):
            if w.is_killing:
                states.append(S.KILLED)
                break
            if w.is_holding:
                return None
            run = w.create(child, loop, "tasks", value=loop.value, iteration=k)
        run = settle(w, run, child)
        current = run.state.current
        if not current.is_terminated:
            return None
        states.append(current)
        if current in _STOPPING:
            break
    return merge_states(states)


def _update(w: Work, run: TaskRun, internal: Mapping[str, Any], count: int) -> TaskRun:
    return w.put(
        replace(run, internal={**run.internal, **internal}, outputs={"iterationCount": count})
    )


def _frequency(spec: TaskSpec) -> Mapping[str, Any]:
    value = spec.properties.get("checkFrequency")
    return value if isinstance(value, Mapping) else {}


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _seconds_or(value: Any, default: float) -> float:
    seconds = seconds_of(value)
    return default if seconds is None else seconds
