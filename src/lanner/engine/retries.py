"""Retries of failed task runs: ``RETRY_FAILED_TASK`` and ``CREATE_NEW_EXECUTION``.

``RETRY_FAILED_TASK`` (default): the run goes RETRYING and, after the delay, runs again as a new
attempt of the same task run. ``CREATE_NEW_EXECUTION``: the run ends RETRIED (the execution
then ends RETRIED, as in Kestra; its ``errors`` still run first) and, after the delay, a new
execution of the same flow revision starts with the same
inputs and labels and ``attemptNumber`` + 1. A decision cannot write another execution, so it
asks the executor loop to (a ``retry_execution`` event in its step, see ``decisions.py``); the
new id derives from the original's, so doing it twice creates it once.
The policy is the task's ``retry``, else the flow's; a failure the worker reports as not
retryable (``retryable: false``: an unknown type, invalid properties) is never retried.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from lanner.domain.executions import Execution, TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.states import StateType
from lanner.domain.times import seconds_of
from lanner.engine import events as ev
from lanner.engine.submit import rerun_of
from lanner.engine.work import Work
from lanner.store import NewEvent

S = StateType
NEW_EXECUTION = "CREATE_NEW_EXECUTION"


def policy_of(w: Work, spec: TaskSpec) -> Mapping[str, Any] | None:
    return spec.retry or w.flow.retry


def creates_new_execution(w: Work, spec: TaskSpec) -> bool:
    policy = policy_of(w, spec)
    return policy is not None and str(policy.get("behavior", "")).upper() == NEW_EXECUTION


def retry_delay(w: Work, run: TaskRun, spec: TaskSpec) -> float | None:
    """Seconds before the next attempt of a failed run, or None when no retry is left.

    Attempts count the run's attempts, or with ``CREATE_NEW_EXECUTION`` the executions made
    (``attemptNumber``); ``maxDuration`` runs from the first attempt's start."""
    policy = policy_of(w, spec)
    if not policy:
        return None
    if creates_new_execution(w, spec):
        attempts = w.execution.attempt_number
        first: datetime | None = w.execution.original_created_date or w.execution.state.start_date
    else:
        attempts = len(run.attempts)
        first = run.attempts[0].state.start_date if run.attempts else None
    max_attempt = policy.get("maxAttempt")
    if max_attempt is not None and attempts >= int(max_attempt):
        return None
    kind = policy.get("type")
    if kind == "exponential":
        base = seconds_of(policy.get("interval")) or 1.0
        factor = float(policy.get("delayFactor") or 2.0)
        delay = min(base * factor ** (attempts - 1), seconds_of(policy.get("maxInterval")) or base)
    elif kind == "random":
        low = seconds_of(policy.get("minInterval")) or 0.0
        high = seconds_of(policy.get("maxInterval")) or low
        digest = hashlib.sha256(f"{run.id}:{attempts}".encode()).digest()
        delay = low + (high - low) * (int.from_bytes(digest[:4]) / 2**32)
    else:
        delay = seconds_of(policy.get("interval")) or 0.0
    max_duration = seconds_of(policy.get("maxDuration"))
    if max_duration is not None and first is not None:
        if (w.now - first).total_seconds() + delay > max_duration:
            return None
    if max_attempt is None and max_duration is None:
        return None
    return delay


def retry_failed(w: Work, run: TaskRun, spec: TaskSpec, *, is_retryable: bool = True) -> bool:
    """Plan the retry of a run that just failed (``run`` carries its failed attempt);
    False when no retry is left or the failure is not retryable."""
    if not is_retryable:
        return False
    delay = retry_delay(w, run, spec)
    if delay is None:
        return False
    at = w.now + timedelta(seconds=delay)
    if creates_new_execution(w, spec):
        run = w.put(run.with_state(S.RETRIED, w.now))
        w.timer(run, ev.TIMER_NEW_EXECUTION, at, w.execution.attempt_number)
    else:
        run = w.put(run.with_state(S.RETRYING, w.now))
        w.timer(run, ev.TIMER_RETRY, at, len(run.attempts))
    return True


def retry_elapsed(w: Work, run: TaskRun, spec: TaskSpec, attempt: int) -> None:
    if run.state.current is S.RETRYING and len(run.attempts) == attempt and not w.is_killing:
        w.start(run, spec)


def new_execution_due(w: Work, run: TaskRun, attempt: int) -> None:
    """The delay of a ``CREATE_NEW_EXECUTION`` retry elapsed: ask for the new execution."""
    if run.state.current is not S.RETRIED or w.execution.attempt_number != attempt:
        return
    if w.execution.state.current in (S.KILLING, S.KILLED):
        return
    payload = {"executionId": retry_execution_id(w.execution), "taskRunId": run.id}
    w.events.append(NewEvent(w.execution.id, ev.RETRY_EXECUTION, payload))


def retry_execution_id(original: Execution) -> str:
    """The id of the execution retrying ``original`` (stable: the same request twice is one)."""
    seed = f"{original.id}:retry:{original.attempt_number}"
    return hashlib.sha256(seed.encode()).hexdigest()[:22]


def retry_execution(original: Execution, execution_id: str, now: datetime) -> Execution:
    """The new execution of a ``CREATE_NEW_EXECUTION`` retry: same flow revision, inputs,
    labels and variables; ``attemptNumber`` + 1; linked to ``original`` like a replay."""
    return rerun_of(original, execution_id, now)
