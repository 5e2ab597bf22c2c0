"""The executor: a pure decision over one execution's snapshot and its due events.

``decide(flow, execution, task_runs, events, now) -> ExecutionStep`` applies the events (task
results, resolved values, kills, resumes, restarts, timers, subflow ends), then walks the flow to
create the next task runs, queue their jobs and derive the execution's state. It never renders a
template nor reads a clock: workers render (``run``/``resolve``/``finalize`` jobs) and send the
values back as events. Event kinds and payloads are listed in ``events.py``.

Imports the domain, the store *protocols* and this package; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from lanner.domain.executions import Attempt, Execution, State, TaskRun
from lanner.domain.flows import Flow, TaskSpec
from lanner.domain.states import StateType
from lanner.engine import control, effects, loops, overrides, repeats, retries, sla
from lanner.engine import events as ev
from lanner.engine import for_each_item as fei
from lanner.engine.concurrency import admission
from lanner.engine.progress import run_block, run_sequence
from lanner.engine.runs import RunIndex, is_stale, merge_states
from lanner.engine.work import (
    IF,
    LOOP,
    LOOP_UNTIL,
    LOOPS,
    RESOLVED_FLAG,
    SWITCH,
    Work,
    effective_state,
)
from lanner.store import ExecutionStep, ExecutorEvent, NewEvent, NewJob

S = StateType

_SPEC_CACHE: dict[int, tuple[Flow, dict[str, TaskSpec]]] = {}
_SPEC_CACHE_SIZE = 256


def task_specs(flow: Flow) -> dict[str, TaskSpec]:
    """Every task of the flow by id (cached per flow object)."""
    cached = _SPEC_CACHE.get(id(flow))
    if cached is not None and cached[0] is flow:
        return cached[1]
    specs = {spec.id: spec for spec in flow.all_tasks()}
    for spec in list(specs.values()):  # ForEachItem's split, items and merge tasks
        if spec.type == fei.FOR_EACH_ITEM:
            specs.update((child.id, child) for child in fei.children_of(spec))
    if len(_SPEC_CACHE) >= _SPEC_CACHE_SIZE:
        _SPEC_CACHE.pop(next(iter(_SPEC_CACHE)))
    _SPEC_CACHE[id(flow)] = (flow, specs)
    return specs


def decide(
    flow: Flow,
    execution: Execution,
    task_runs: Iterable[TaskRun] | RunIndex,
    events: Sequence[ExecutorEvent],
    now: datetime,
    *,
    slots_taken: int | None = None,
) -> ExecutionStep:
    """What the execution does next, given its due events (all consumed by the step).

    ``task_runs`` may be a :class:`RunIndex`; it is then updated in place with the step's runs
    (the executor loop keeps one per live execution instead of re-reading them).
    ``slots_taken``: for a flow with a ``concurrency`` limit, the executions of the flow running
    or queued before this one (the loop counts them; None: no limit applies).
    """
    index = task_runs if isinstance(task_runs, RunIndex) else RunIndex(task_runs)
    w = Work(flow, execution, index, now, specs=task_specs(flow), slots_taken=slots_taken)
    for event in sorted(events, key=decision_order):
        if event.id is not None:
            w.consumed.append(event.id)
        if event.job_id is not None:
            w.finished.append(event.job_id)
        apply_event(w, event)
    w.mark_touched()
    advance(w)
    return w.step()


def decision_order(event: ExecutorEvent) -> int:
    """Sort key: results handed over in process first (in their order), then stored events
    oldest first."""
    return -1 if event.id is None else event.id


def apply_event(w: Work, event: ExecutorEvent) -> None:
    kind, payload = event.kind, event.payload
    current = w.execution.state.current
    if kind == ev.RESTART:
        control.restart(w, payload)
    elif kind == ev.STATE:
        overrides.mark_as(w, payload)
    elif kind == ev.TIMER and payload.get("reason") == ev.TIMER_NEW_EXECUTION:
        timer(w, payload)  # due once the original execution has ended
    elif current.is_terminated:
        return
    elif kind == ev.CREATED or kind == ev.SLOT_FREED:
        if current in (S.CREATED, S.QUEUED):
            admit(w)
    elif kind == ev.TASK_RESULT:
        task_result(w, payload)
    elif kind == ev.JOB_LOST:
        job_lost(w, payload)
    elif kind == ev.RESOLVED:
        resolved(w, payload)
    elif kind == ev.FINALIZED:
        finalized(w, payload)
    elif kind == ev.KILL:
        control.kill(w, payload)
    elif kind == ev.RESUME:
        control.resume(w, payload)
    elif kind == ev.FORCE_RUN:
        if current.is_paused:
            control.resume(w, {"inputs": {}})
        elif current in (S.CREATED, S.QUEUED):
            w.move_execution(S.RUNNING)
    elif kind == ev.PAUSE:
        overrides.pause(w)
    elif kind == ev.TIMER:
        timer(w, payload)
    elif kind == ev.CHILD_ENDED:
        control.child_ended(w, payload)


def admit(w: Work) -> None:
    """Start a created or queued execution, or queue, cancel or fail it (flow concurrency)."""
    state = admission(w.flow.concurrency, w.slots_taken)
    if state is S.RUNNING or state is S.QUEUED:
        w.move_execution(state)
        if state is S.RUNNING:
            sla.schedule(w)
    else:
        end(w, state)


def _open_run(w: Work, payload: Mapping[str, Any]) -> tuple[TaskRun, TaskSpec | None] | None:
    run = w.runs.get(str(payload.get("taskRunId")))
    if run is None or is_stale(run) or run.state.current is not S.RUNNING:
        return None
    return run, w.spec(run.task_id)


def task_result(w: Work, payload: Mapping[str, Any]) -> None:
    """A worker's report for a ``run`` job (duplicates and late reports are ignored)."""
    found = _open_run(w, payload)
    if found is None:
        return
    run, spec = found
    if payload.get("attempt") != len(run.attempts) + 1:
        return
    state = S(str(payload.get("state")))
    outputs = payload.get("outputs")
    if state is S.RUNNING:  # a Subflow (ForEachItem) started its children and waits for them
        internal = {
            **run.internal,
            **{k: payload[k] for k in ("childId", "childIds") if payload.get(k) is not None},
        }
        w.put(replace(run, internal=internal, outputs=outputs or run.outputs))
        for early in run.internal.get("earlyChildren") or ():
            control.child_ended(w, early)
        return
    started = _date(payload.get("startedAt"), w.now)
    ended = _date(payload.get("endedAt"), w.now)
    attempt_state = State.of(S.RUNNING, started).to(state, ended)
    attempt = Attempt(attempt_state, payload.get("workerId"))
    run = replace(run, attempts=(*run.attempts, attempt), outputs=outputs)
    parent_outputs = payload.get("parentOutputs")  # a WorkingDirectory's, from its last child
    if isinstance(parent_outputs, dict) and run.parent_task_run_id is not None:
        parent = w.runs.get(run.parent_task_run_id)
        if parent is not None:
            w.put(replace(parent, outputs={**(parent.outputs or {}), **parent_outputs}))
    if w.is_killing and not state.is_terminated:
        state = S.KILLED
    if state is S.FAILED and spec is not None and not w.is_killing:
        if retries.retry_failed(w, run, spec, is_retryable=payload.get("retryable") is not False):
            return
    if state is S.SUCCESS and len(run.attempts) > 1 and spec is not None:
        policy = spec.retry or w.flow.retry or {}
        if policy.get("warningOnRetry") is True:
            state = S.WARNING
    changes = payload.get("effects")
    if changes and state in (S.SUCCESS, S.WARNING) and not w.is_killing:
        exit_state = effects.apply(w, run, spec, changes)
        if exit_state is not None:
            if exit_state is not S.KILLED:
                end(w, exit_state)  # Exit: the execution ends now, whatever still runs
            return
    w.finish(run, state, spec)


def job_lost(w: Work, payload: Mapping[str, Any]) -> None:
    """A ``run`` job's lease ran out (its worker died or lost the store): the attempt ends
    RESUBMITTED with the worker that had it (Kestra's ``onRunningResend``) and the next
    attempt is queued; while the execution is killed, the run ends KILLED instead."""
    found = _open_run(w, payload)
    if found is None:
        return
    run, spec = found
    if payload.get("attempt") != len(run.attempts) + 1:
        return
    started = run.state.histories[-1].date  # queued for this attempt since
    lost = Attempt(State.of(S.RUNNING, started).to(S.RESUBMITTED, w.now), payload.get("workerId"))
    run = replace(run, attempts=(*run.attempts, lost))
    if w.is_killing or spec is None:
        w.finish(run, S.KILLED if w.is_killing else S.FAILED, spec)
        return
    job_payload: dict[str, Any] = dict(payload.get("jobPayload") or {"taskId": spec.id})
    job_payload["attempt"] = len(run.attempts) + 1
    w.job(w.put(run), ev.JOB_RUN, job_payload)


def resolved(w: Work, payload: Mapping[str, Any]) -> None:
    """A worker rendered what a flowable run needs (condition, value, values, delays)."""
    found = _open_run(w, payload)
    if found is None:
        return
    run, spec = found
    if spec is not None and spec.type == LOOP_UNTIL and repeats.CHECKING in run.internal:
        repeats.checked(w, run, spec, payload)
        return
    if spec is not None and spec.type == LOOP and run.internal.get(loops.COLLECTING):
        loops.collected(w, run, payload)
        return
    if run.internal.get(RESOLVED_FLAG):
        return
    if payload.get("error") is not None:
        w.finish(run, S.FAILED, spec)
        return
    if payload.get("runIf") is False:
        w.put(run.with_state(S.SKIPPED, w.now))
        return
    internal: dict[str, Any] = {**run.internal, RESOLVED_FLAG: True}
    outputs = run.outputs
    kind = spec.type if spec is not None else ""
    if kind == IF:
        internal["condition"] = bool(payload.get("condition"))
        outputs = {"evaluationResult": internal["condition"]}
    elif kind == SWITCH:
        value = str(payload.get("value"))
        internal["value"] = value
        outputs = {"value": value, "defaults": spec is None or value not in spec.cases}
    elif kind in LOOPS:
        internal["values"] = [str(v) for v in payload.get("values") or ()]
        if kind == LOOP and isinstance(payload.get("keys"), list):
            internal[loops.KEYS] = [str(k) for k in payload["keys"]]
    for name in ("delay", "timeout", "pauseDuration"):
        if payload.get(name) is not None:
            internal[name] = payload[name]
    w.put(replace(run, internal=internal, outputs=outputs))


def timer(w: Work, payload: Mapping[str, Any]) -> None:
    if payload.get("reason") == sla.TIMER_SLA:  # the execution outlived a MAX_DURATION SLA
        state = sla.violated(w, payload)
        if state is not None:
            end(w, state)
        return
    run = w.runs.get(str(payload.get("taskRunId")))
    spec = w.spec(run.task_id) if run is not None else None
    if run is None or spec is None or is_stale(run):
        return
    if payload.get("reason") == ev.TIMER_PAUSE:
        control.pause_elapsed(w, run, spec)
    elif payload.get("reason") == ev.TIMER_RETRY:
        retries.retry_elapsed(w, run, spec, int(payload.get("attempt") or 0))
    elif payload.get("reason") == ev.TIMER_LOOP:
        repeats.next_iteration(w, run, int(payload.get("attempt") or 0))
    elif payload.get("reason") == ev.TIMER_NEW_EXECUTION:
        retries.new_execution_due(w, run, int(payload.get("attempt") or 0))


def finalized(w: Work, payload: Mapping[str, Any]) -> None:
    """The flow outputs are rendered: the execution can end."""
    if payload.get("error") is not None:
        w.set_execution(replace(w.execution, outputs={}))
        end(w, S.FAILED)
        return
    w.set_execution(replace(w.execution, outputs=dict(payload.get("outputs") or {})))
    end(w, _root_state(w))


def advance(w: Work) -> None:
    """Walk the flow from its root lists; end the execution when they are done."""
    current = w.execution.state.current
    if current.is_terminated or current in (S.CREATED, S.QUEUED):
        return
    w.is_holding = current is S.PAUSED and not any(
        run.state.current is S.PAUSED for run in w.runs.active()
    )
    flow = w.flow
    state = run_block(
        w, None, lambda: run_sequence(w, None, "tasks", flow.tasks), flow.errors, flow.finally_
    )
    if state is None:
        return
    if flow.after_execution and not w.is_killing:
        if run_sequence(w, None, "afterExecution", flow.after_execution) is None:
            return
    if state is S.FAILED and any(
        run.state.current is S.RETRIED and not is_stale(run) for run in w.runs
    ):  # retried as a new execution (CREATE_NEW_EXECUTION): Kestra ends this one RETRIED
        state = S.RETRIED
    if w.is_killing:
        end(w, S.KILLED)
    elif flow.outputs and state in (S.SUCCESS, S.WARNING):
        if w.changed or w.execution_changed:
            w.jobs.append(NewJob(w.execution.tenant_id, w.execution.id, "", ev.JOB_FINALIZE, {}))
    else:
        end(w, state)


def _root_state(w: Work) -> StateType:
    return merge_states(
        run.state.current
        for run in w.runs
        if run.parent_task_run_id is None
        and run.branch != "afterExecution"
        and not is_stale(run)
        and run.state.current.is_terminated
    )


def end(w: Work, state: StateType) -> None:
    """The execution ends in ``state``; a subflow's parent hears of it."""
    if w.execution.state.current is S.PAUSED:
        w.move_execution(S.RUNNING)
    w.move_execution(state)
    execution = w.execution
    if execution.parent_id and execution.trigger is not None:
        task_run_id = execution.trigger.variables.get("taskRunId")
        if task_run_id:
            payload = {
                "taskRunId": task_run_id,
                "executionId": execution.id,
                "state": state.value,
                "outputs": dict(execution.outputs),
            }
            w.events.append(NewEvent(execution.parent_id, ev.CHILD_ENDED, payload))


def _date(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return default
    return default


__all__ = ["decide", "effective_state", "task_specs"]
