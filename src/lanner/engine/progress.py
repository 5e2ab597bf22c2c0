"""Flowable resolution: what runs next under each flowable task run, and when one is done.

The walk starts at the execution's root lists (``tasks``, ``errors``, ``finally``,
``afterExecution``) and descends only into task runs still open. A *block* is a main part plus
the local ``errors`` (run when the main part failed) and ``finally`` (always) branches; a main
part is a sequential list, a parallel list (``concurrent``, Dag ``dependsOn``) or a loop's
iterations. Each function returns the block's terminal state, or None while it is running.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lanner.domain.executions import TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.states import StateType
from lanner.engine import control, loops, repeats
from lanner.engine import for_each_item as fei
from lanner.engine.runs import LoopCursor, is_stale, merge_states
from lanner.engine.work import (
    DAG,
    EACH_PARALLEL,
    EACH_SEQUENTIAL,
    IF,
    LOOP,
    LOOP_UNTIL,
    LOOPS,
    PARALLEL,
    PAUSES,
    RESOLVED_FLAG,
    SWITCH,
    Work,
    needs_resolution,
)

S = StateType
_STOPPING = (S.FAILED, S.KILLED, S.CANCELLED, S.RETRIED)
Main = Callable[[], StateType | None]


def enabled(specs: Sequence[TaskSpec]) -> list[TaskSpec]:
    return [spec for spec in specs if not spec.is_disabled]


def _current(
    w: Work, parent: TaskRun | None, spec: TaskSpec, iteration: int | None
) -> TaskRun | None:
    parent_id = parent.id if parent is not None else None
    run = w.runs.find(parent_id, spec.id, iteration)
    return None if run is None or is_stale(run) else run


def _iteration_of(parent: TaskRun | None) -> int | None:
    return parent.iteration if parent is not None else None


def settle(w: Work, run: TaskRun, spec: TaskSpec) -> TaskRun:
    """Advance an open flowable run; returns the run as it now stands."""
    if run.state.current.is_terminated or not spec.is_flowable:
        return run
    if needs_resolution(spec) and not run.internal.get(RESOLVED_FLAG):
        if w.is_killing:
            return w.finish(run, S.KILLED, None)
        return run  # waiting for the worker's ``resolved`` event
    if spec.type in PAUSES:
        if not run.internal.get("paused"):
            return control.pause(w, run, spec)
        if not run.internal.get("resumed") or run.state.current is not S.RUNNING:
            return run  # resumed by events (resume, timer), see control.py
    state = flowable_state(w, run, spec)
    if state is None:
        return run
    return w.finish(w.runs.get(run.id) or run, state, spec)  # as resolving may have changed it


def flowable_state(w: Work, run: TaskRun, spec: TaskSpec) -> StateType | None:
    """The state a resolved flowable run ends in, or None while its children run."""
    kind = spec.type
    main: Main
    if kind == PARALLEL or kind == DAG:
        limit = _int(spec.properties.get("concurrent"), 0)
        main = lambda: run_parallel(w, run, "tasks", spec.branch("tasks"), limit)  # noqa: E731
    elif kind == IF:
        branch = "then" if run.internal.get("condition") else "else"
        main = lambda: run_sequence(w, run, branch, spec.branch(branch))  # noqa: E731
    elif kind == SWITCH:
        value = str(run.internal.get("value"))
        cases = spec.cases
        branch = f"cases.{value}" if value in cases else "defaults"
        main = lambda: run_sequence(w, run, branch, spec.branch(branch))  # noqa: E731
    elif kind in LOOPS:
        main = lambda: run_loop(w, run, spec)  # noqa: E731
    elif kind == fei.FOR_EACH_ITEM:  # its split, items and merge tasks, in order
        main = lambda: run_sequence(w, run, "tasks", fei.children_of(spec))  # noqa: E731
    elif kind == LOOP_UNTIL:
        main = lambda: repeats.run_until(w, run, spec, settle)  # noqa: E731
    else:  # Sequential, AllowFailure, WorkingDirectory: in order
        main = lambda: run_sequence(w, run, "tasks", spec.branch("tasks"))  # noqa: E731
    return run_block(w, run, main, spec.branch("errors"), spec.branch("finally"))


def run_block(
    w: Work,
    parent: TaskRun | None,
    main: Main,
    errors: Sequence[TaskSpec],
    finally_: Sequence[TaskSpec],
) -> StateType | None:
    state = main()
    if state is None:
        return None
    if state in (S.FAILED, S.CANCELLED) and errors and not w.is_killing:
        if run_sequence(w, parent, "errors", errors) is None:
            return None
    if finally_ and not w.is_killing:
        after = run_sequence(w, parent, "finally", finally_)
        if after is None:
            return None
        state = merge_states((state, after))
    return state


def run_sequence(
    w: Work, parent: TaskRun | None, branch: str, specs: Sequence[TaskSpec]
) -> StateType | None:
    """Run ``specs`` one after the other; stops at the first failure.

    A cursor remembers the finished prefix, so a step looks only at the task that runs now
    (and the ones it starts): the cost does not grow with the length of the list.
    """
    iteration = _iteration_of(parent)
    key = (parent.id if parent is not None else None, branch, iteration)
    cursor = w.runs.sequence(key, specs)
    enabled_specs = cursor.enabled
    states: list[StateType] = [cursor.worst]
    while cursor.position < len(enabled_specs):
        spec = enabled_specs[cursor.position]
        run = _current(w, parent, spec, iteration)
        if run is None:
            if w.is_killing:
                states.append(S.KILLED)
                break
            if w.is_holding:
                return None
            run = w.create(spec, parent, branch)
        run = settle(w, run, spec)
        current = run.state.current
        if not current.is_terminated:
            return None
        if current in _STOPPING:
            states.append(current)
            break
        w.runs.cover(key, cursor, run)
        states[0] = cursor.worst
    return merge_states(states)


def run_parallel(
    w: Work,
    parent: TaskRun | None,
    branch: str,
    specs: Sequence[TaskSpec],
    limit: int,
) -> StateType | None:
    """Run ``specs`` side by side, ``limit`` at once (0: all); Dag children wait for their
    ``dependsOn`` to succeed."""
    iteration = _iteration_of(parent)
    states: dict[str, StateType] = {}
    pending: list[TaskSpec] = []
    running = 0
    for spec in enabled(specs):
        run = _current(w, parent, spec, iteration)
        if run is None:
            pending.append(spec)
            continue
        run = settle(w, run, spec)
        if run.state.current.is_terminated:
            states[spec.id] = run.state.current
        else:
            running += 1
    is_stopped = w.is_killing or any(state in _STOPPING for state in states.values())
    while pending and not is_stopped and not w.is_holding and (limit <= 0 or running < limit):
        ready = next((s for s in pending if _deps_done(s, states)), None)
        if ready is None:
            break
        pending.remove(ready)
        run = settle(w, w.create(ready, parent, branch), ready)
        if run.state.current.is_terminated:
            states[ready.id] = run.state.current
            is_stopped = run.state.current in _STOPPING
        else:
            running += 1
    if running:
        return None
    if pending and not is_stopped:
        if w.is_holding:
            return None
        if any(_deps_done(s, states) for s in pending):
            return None
        return S.FAILED  # a Dag child whose dependency did not succeed
    if pending and w.is_killing:
        states["~killed"] = S.KILLED
    return merge_states(states.values())


def _deps_done(spec: TaskSpec, states: dict[str, StateType]) -> bool:
    return all(
        dep in states and states[dep] in (S.SUCCESS, S.WARNING, S.SKIPPED)
        for dep in spec.depends_on
    )


def run_loop(w: Work, run: TaskRun, spec: TaskSpec) -> StateType | None:
    """ForEach (and the deprecated Each*): one sequential pass of ``tasks`` per value.

    Only the iterations this decision's events touched are looked at again (a cursor keeps the
    rest), so one event costs the same at 10 or 10,000 values.
    """
    values: list[str] = list(run.internal.get("values") or ())
    if spec.type == EACH_SEQUENTIAL:
        limit = 1
    elif spec.type == EACH_PARALLEL:
        limit = _int(spec.properties.get("concurrent"), 0)
    elif spec.type == LOOP:  # Kestra 2.0: 0 (no limit) by default
        limit = _int(spec.properties.get("concurrencyLimit"), 0)
    else:
        limit = _int(spec.properties.get("concurrencyLimit"), 1)
    # A Loop's iterations are independent (Kestra runs each as its own execution): a failed one
    # does not stop the others; ForEach stops starting new ones.
    stopping = (S.KILLED,) if spec.type == LOOP else _STOPPING
    children = spec.branch("tasks")
    cursor = w.runs.cursors.get(run.id)
    if cursor is None:
        cursor = w.runs.cursors[run.id] = LoopCursor()
        while cursor.started < len(values) and _is_started(w, run, children, cursor.started):
            _note(
                cursor, cursor.started, _iteration_state(w, run, children, values, cursor.started)
            )
            cursor.started += 1
    else:
        for index in sorted(w.touched(run.id) & cursor.open):
            _note(cursor, index, _iteration_state(w, run, children, values, index))
    is_stopped = w.is_killing or any(state in stopping for state in cursor.done)
    while cursor.started < len(values) and not is_stopped and not w.is_holding:
        if limit > 0 and len(cursor.open) >= limit:
            break
        index = cursor.started
        cursor.started += 1
        state = _iteration_state(w, run, children, values, index)
        _note(cursor, index, state)
        is_stopped = state is not None and state in stopping
    if cursor.open or (cursor.started < len(values) and not is_stopped):
        return None
    states = list(cursor.done)
    if cursor.started < len(values) and w.is_killing:
        states.append(S.KILLED)
    if spec.type == LOOP:
        return loops.ended(w, run, spec, states)
    return merge_states(states)


def _note(cursor: LoopCursor, index: int, state: StateType | None) -> None:
    if state is None:
        cursor.open.add(index)
    else:
        cursor.open.discard(index)
        cursor.done.append(state)


def _is_started(w: Work, loop: TaskRun, children: Sequence[TaskSpec], index: int) -> bool:
    return any(w.runs.find(loop.id, spec.id, index) is not None for spec in enabled(children))


def _iteration_state(
    w: Work, loop: TaskRun, children: Sequence[TaskSpec], values: list[str], index: int
) -> StateType | None:
    value = values[index]
    states: list[StateType] = []
    for spec in enabled(children):
        run = w.runs.find(loop.id, spec.id, index)
        if run is None or is_stale(run):
            if w.is_killing:
                states.append(S.KILLED)
                break
            if w.is_holding:
                return None
            run = w.create(spec, loop, "tasks", value=value, iteration=index)
        run = settle(w, run, spec)
        current = run.state.current
        if not current.is_terminated:
            return None
        states.append(current)
        if current in _STOPPING:
            break
    return merge_states(states)


def _int(value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
