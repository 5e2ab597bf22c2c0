"""The scratch state of one decision: what changed, what to queue, what was consumed.

:class:`Work` wraps the snapshot a decision starts from (flow, execution, run index) and records
every write so :func:`lanner.engine.executor.decide` can hand back one ``ExecutionStep``. Task
creation and start (jobs for runnable tasks, resolution jobs for flowable ones) live here too,
shared by the flowable resolution and the control events. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from lanner.domain.executions import Execution, State, TaskRun, new_id
from lanner.domain.flows import Flow, TaskSpec
from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.runs import STALE, RunIndex, is_stale
from lanner.store import ExecutionStep, NewEvent, NewJob

S = StateType

FLOW = "io.kestra.plugin.core.flow."
SEQUENTIAL = FLOW + "Sequential"
PARALLEL = FLOW + "Parallel"
IF = FLOW + "If"
SWITCH = FLOW + "Switch"
FOREACH = FLOW + "ForEach"
EACH_SEQUENTIAL = FLOW + "EachSequential"
EACH_PARALLEL = FLOW + "EachParallel"
DAG = FLOW + "Dag"
ALLOW_FAILURE = FLOW + "AllowFailure"
WORKING_DIRECTORY = FLOW + "WorkingDirectory"
PAUSE = FLOW + "Pause"
APPROVAL = FLOW + "Approval"
SUBFLOW = FLOW + "Subflow"
LOOP_UNTIL = FLOW + "LoopUntil"
LOOP = FLOW + "Loop"  # Kestra 2.0: iterations in place here (see progress.run_loop)

LOOPS = frozenset({FOREACH, EACH_SEQUENTIAL, EACH_PARALLEL, LOOP})
PAUSES = frozenset({PAUSE, APPROVAL})
# Flowable types whose resolution needs a rendered value (worker ``resolve`` job).
VALUED = frozenset({IF, SWITCH, *LOOPS})
RESOLVED_FLAG = "resolved"


def has_default_run_if(spec: TaskSpec) -> bool:
    value = spec.run_if
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def needs_resolution(spec: TaskSpec) -> bool:
    """Whether a flowable task run waits for a worker to render something first."""
    if spec.type in VALUED or not has_default_run_if(spec):
        return True
    if spec.type in PAUSES:
        return any(
            isinstance(spec.properties.get(name), str) and "{" in spec.properties[name]
            for name in ("delay", "timeout", "pauseDuration")
        )
    return False


@dataclass(slots=True)
class Work:
    """One decision in progress over one execution."""

    flow: Flow
    execution: Execution
    runs: RunIndex
    now: datetime
    changed: dict[str, TaskRun] = field(default_factory=dict)
    jobs: list[NewJob] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    consumed: list[int] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    execution_changed: bool = False
    specs: Mapping[str, TaskSpec] = field(default_factory=dict)
    slots_taken: int | None = None
    """Executions of the flow running or queued ahead of this one (concurrency; from the loop)."""
    is_holding: bool = False
    """Paused from outside: running task runs finish, no new one starts (set by ``advance``)."""
    _touched: dict[str | None, set[int | None]] | None = None

    # -- records -------------------------------------------------------------------------------

    def put(self, run: TaskRun) -> TaskRun:
        self.runs.put(run)
        self.changed[run.id] = run
        return run

    def set_execution(self, execution: Execution) -> None:
        if execution is not self.execution:
            self.execution = execution
            self.execution_changed = True

    def move_execution(self, state: StateType) -> None:
        self.set_execution(self.execution.with_state(state, self.now))

    @property
    def is_killing(self) -> bool:
        return self.execution.state.current in (S.KILLING, S.KILLED)

    def mark_touched(self) -> None:
        """Remember which loop iterations the events changed (call once events are applied)."""
        touched: dict[str | None, set[int | None]] = {}
        for run in self.changed.values():
            current: TaskRun | None = run
            while current is not None:
                touched.setdefault(current.parent_task_run_id, set()).add(current.iteration)
                parent_id = current.parent_task_run_id
                current = self.runs.get(parent_id) if parent_id is not None else None
        self._touched = touched

    def touched(self, parent_id: str) -> set[int]:
        """Iterations under ``parent_id`` whose runs this decision's events changed."""
        found = (self._touched or {}).get(parent_id, set())
        return {i for i in found if i is not None}

    def spec(self, task_id: str) -> TaskSpec | None:
        return self.specs.get(task_id)

    def job(self, run: TaskRun, kind: str, payload: Mapping[str, Any]) -> None:
        self.jobs.append(
            NewJob(self.execution.tenant_id, self.execution.id, run.id, kind, dict(payload))
        )

    def timer(self, run: TaskRun, reason: str, at: datetime, attempt: int) -> None:
        payload = {"taskRunId": run.id, "reason": reason, "attempt": attempt}
        self.events.append(NewEvent(self.execution.id, ev.TIMER, payload, available_at=at))

    def step(self) -> ExecutionStep:
        return ExecutionStep(
            execution_id=self.execution.id,
            execution=self.execution if self.execution_changed else None,
            task_runs=tuple(self.changed.values()),
            jobs=tuple(self.jobs),
            events=tuple(self.events),
            consumed_events=tuple(self.consumed),
            finished_jobs=tuple(self.finished),
        )

    # -- task runs -----------------------------------------------------------------------------

    def create(
        self,
        spec: TaskSpec,
        parent: TaskRun | None,
        branch: str,
        *,
        value: str | None = None,
        iteration: int | None = None,
    ) -> TaskRun:
        """Create (or, after a restart, reuse) the run of ``spec`` and start it."""
        if parent is not None and value is None and iteration is None:
            value, iteration = parent.value, parent.iteration
        parent_id = parent.id if parent is not None else None
        existing = self.runs.find(parent_id, spec.id, iteration)
        if existing is not None and is_stale(existing):
            internal = {k: v for k, v in existing.internal.items() if k != STALE}
            run = replace(existing, internal=internal, outputs=None)
            run = run.with_state(S.RESTARTED, self.now)
        else:
            run = TaskRun(
                id=new_id(),
                tenant_id=self.execution.tenant_id,
                execution_id=self.execution.id,
                namespace=self.execution.namespace,
                flow_id=self.execution.flow_id,
                task_id=spec.id,
                state=State.of(S.CREATED, self.now),
                parent_task_run_id=parent_id,
                value=value,
                iteration=iteration,
                branch=branch,
            )
        return self.start(run, spec)

    def start(self, run: TaskRun, spec: TaskSpec) -> TaskRun:
        """Move a created run to RUNNING and queue what it needs (a run or resolve job)."""
        run = run.with_state(S.RUNNING, self.now)
        if not spec.is_flowable:
            self.job(run, ev.JOB_RUN, {"taskId": spec.id, "attempt": len(run.attempts) + 1})
        elif needs_resolution(spec):
            self.job(run, ev.JOB_RESOLVE, {"taskId": spec.id, "attempt": 1})
        return self.put(run)

    def finish(self, run: TaskRun, state: StateType, spec: TaskSpec | None) -> TaskRun:
        """End a run in ``state`` after ``allowFailure``/``allowWarning``."""
        return self.put(run.with_state(effective_state(state, spec), self.now))


def effective_state(state: StateType, spec: TaskSpec | None) -> StateType:
    if spec is None:
        return state
    if state is S.FAILED and (spec.allow_failure or spec.type == ALLOW_FAILURE):
        state = S.WARNING
    if state is S.WARNING and spec.allow_warning:
        state = S.SUCCESS
    return state


def after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
