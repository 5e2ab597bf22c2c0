"""Jobs the executor runs itself, in the step that creates them: no job row, no hop.

A task that does no I/O of its own — ``Return``, ``Echo``, ``OutputValues``, ``Log``, ``Fail``
— and the rendering a flowable needs (a ``resolve`` job: an If condition, a Switch value, ForEach
values, Pause durations) or the flow's outputs (``finalize``) cost a template render: far less
than the round trip through a job, the worker and a second transaction. With a worker in the
same process, the executor loop runs such jobs with that worker's :class:`JobRunner` as soon as a
decision creates them, decides again on their results, and writes the whole chain as one step
(:func:`merge`). One hundred sequential ``Return`` tasks become one transaction. A multi-node
leader does the same with a runner of its own (its attempts name the executor process).

Nothing accepted lives only in memory: an inlined job has no row because it never leaves the
transaction that would have created it; a crash before that commit loses the decision and its
inlined results together, and the events that led to it are decided again at the next start.
Each task run still goes CREATED → RUNNING → SUCCESS (or FAILED, with retries as usual) with an
attempt naming the worker, and its log lines are committed before the step that ends it (the
loop flushes the log writer first), as a worker's are. A chain is bounded (:data:`BUDGET` jobs a
step) so one long sequence cannot hold the loop; the rest goes to the worker as usual.
Imports the domain, the store protocols and this package.
"""

from __future__ import annotations

from collections.abc import Iterable

from lanner.domain.executions import TaskRun
from lanner.engine import events as ev
from lanner.engine.snapshots import Snapshot
from lanner.engine.work import FLOW, PAUSES, SUBFLOW, VALUED, WORKING_DIRECTORY
from lanner.store import ExecutionStep, NewJob

BUDGET = 256
"""Jobs inlined per execution in one loop batch (the rest go to the worker)."""

_CORE = "io.kestra.plugin.core."
PURE_TASKS = frozenset(
    {
        _CORE + "debug.Return",
        _CORE + "debug.Echo",
        _CORE + "output.OutputValues",
        _CORE + "log.Log",
        _CORE + "execution.Fail",
    }
)
"""Runnable types that only render and return (or log, or fail): safe to run in the loop."""

_RESOLVED = frozenset({*VALUED, *PAUSES, FLOW + "LoopUntil"})
_LOG = _CORE + "log.Log"
LOG_MESSAGES = 100
"""A ``Log`` task with more messages than this goes to the worker: its lines stream through
the log writer (batched, with back-pressure) instead of riding in the step's transaction."""


def can_inline(job: NewJob, snapshot: Snapshot) -> bool:
    """Whether ``job`` may run in the executor's step (see the module docstring)."""
    if job.kind == ev.JOB_FINALIZE:
        return True
    run = snapshot.runs.get(job.task_run_id)
    spec = snapshot.specs.get(str(job.payload.get("taskId")))
    if run is None or spec is None or job.available_at is not None:
        return False
    if job.kind == ev.JOB_RESOLVE:
        return spec.type in _RESOLVED
    if job.kind != ev.JOB_RUN or spec.type not in PURE_TASKS or spec.type == SUBFLOW:
        return False
    messages = spec.properties.get("message")
    if spec.type == _LOG and isinstance(messages, list) and len(messages) > LOG_MESSAGES:
        return False
    return not _in_working_directory(run, snapshot)


def _in_working_directory(run: TaskRun, snapshot: Snapshot) -> bool:
    parent_id = run.parent_task_run_id
    while parent_id is not None:
        parent = snapshot.runs.get(parent_id)
        if parent is None:
            return False
        spec = snapshot.specs.get(parent.task_id)
        if spec is not None and spec.type == WORKING_DIRECTORY:
            return True
        parent_id = parent.parent_task_run_id
    return False


def merge(first: ExecutionStep, then: ExecutionStep, inlined: Iterable[NewJob]) -> ExecutionStep:
    """One step doing ``first`` then ``then`` for the same execution, without the jobs of
    ``first`` that ran inline. A task run written by both keeps its first position."""
    skipped = {id(job) for job in inlined}
    runs = {run.id: run for run in first.task_runs}
    runs.update((run.id, run) for run in then.task_runs)
    return ExecutionStep(
        first.execution_id,
        execution=then.execution if then.execution is not None else first.execution,
        task_runs=tuple(runs.values()),
        jobs=(*(job for job in first.jobs if id(job) not in skipped), *then.jobs),
        events=(*first.events, *then.events),
        consumed_events=(*first.consumed_events, *then.consumed_events),
        finished_jobs=(*first.finished_jobs, *then.finished_jobs),
        transitions=(*first.transitions, *then.transitions),
    )
