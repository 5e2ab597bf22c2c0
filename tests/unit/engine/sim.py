"""A pure simulation around ``decide``: a fake worker answers jobs the way the real one would."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lanner.domain.executions import Execution, ExecutionTrigger, State, TaskRun
from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.executor import decide
from lanner.engine.runs import RunIndex
from lanner.flows import parse_flow
from lanner.store import ExecutionStep, ExecutorEvent, NewJob

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = StateType

Answer = tuple[str, Mapping[str, Any] | None]
"""What a fake task does: (state, outputs)."""


@dataclass
class Sim:
    source: str
    now: datetime = T0
    execution_id: str = "exec1"
    parent_id: str | None = None
    trigger: ExecutionTrigger | None = None
    answers: dict[str, Answer | Callable[[TaskRun], Answer]] = field(default_factory=dict)
    resolutions: dict[str, Mapping[str, Any] | Callable[[TaskRun], Mapping[str, Any]]] = field(
        default_factory=dict
    )
    keep_index: bool = False
    """Keep one RunIndex across steps, as the executor loop does (loop cursors persist)."""
    hold: set[str] = field(default_factory=set)
    """Task ids whose jobs the fake worker keeps running (never answers by itself)."""

    def __post_init__(self) -> None:
        self.flow = parse_flow(self.source)
        self.execution = Execution(
            id=self.execution_id,
            tenant_id="main",
            namespace=self.flow.namespace,
            flow_id=self.flow.id,
            flow_revision=1,
            state=State.of(S.CREATED, self.now),
            parent_id=self.parent_id,
            trigger=self.trigger,
        )
        self.runs: dict[str, TaskRun] = {}
        self.pending: list[ExecutorEvent] = []
        self.held: list[NewJob] = []
        self.steps: list[ExecutionStep] = []
        self.outbox: list[Any] = []  # events for other executions
        self.order: list[str] = []  # task ids in the order their run jobs were answered
        self._next_event = 1
        self.index = RunIndex()
        self.send(ev.CREATED, {})

    # -- events --------------------------------------------------------------------------------

    def send(self, kind: str, payload: Mapping[str, Any], at: datetime | None = None) -> None:
        self.pending.append(
            ExecutorEvent(self._next_event, self.execution.id, kind, dict(payload), at or self.now)
        )
        self._next_event += 1

    def step(self) -> ExecutionStep:
        due = [e for e in self.pending if e.available_at <= self.now]
        self.pending = [e for e in self.pending if e.available_at > self.now]
        runs = self.index if self.keep_index else list(self.runs.values())
        step = decide(self.flow, self.execution, runs, due, self.now)
        self.steps.append(step)
        if step.execution is not None:
            self.execution = step.execution
        for run in step.task_runs:
            self.runs[run.id] = run
        for event in step.events:
            if event.execution_id == self.execution.id:
                self.send(event.kind, event.payload, event.available_at)
            else:
                self.outbox.append(event)
        for job in step.jobs:
            self.work(job)
        return step

    def work(self, job: NewJob) -> None:
        if job.kind == ev.JOB_FINALIZE:
            self.send(ev.FINALIZED, {"outputs": {"done": True}})
            return
        run = self.runs[job.task_run_id]
        if job.kind == ev.JOB_RESOLVE:
            resolution = self.resolutions.get(run.task_id, {})
            payload = resolution(run) if callable(resolution) else resolution
            self.send(ev.RESOLVED, {"taskRunId": run.id, "attempt": 1, **payload})
            return
        if run.task_id in self.hold:
            self.held.append(job)
            return
        self.answer(job)

    def answer(self, job: NewJob, state: str | None = None) -> None:
        run = self.runs[job.task_run_id]
        answer = self.answers.get(run.task_id, ("SUCCESS", None))
        result_state, outputs = answer(run) if callable(answer) else answer
        self.order.append(run.task_id if run.value is None else f"{run.task_id}[{run.value}]")
        self.send(
            ev.TASK_RESULT,
            {
                "taskRunId": run.id,
                "attempt": job.payload["attempt"],
                "state": state or result_state,
                "outputs": outputs,
                "startedAt": self.now.isoformat(),
                "endedAt": self.now.isoformat(),
            },
        )

    def release(self, state: str | None = None) -> None:
        """The fake worker finishes its held jobs."""
        held, self.held = self.held, []
        for job in held:
            self.answer(job, state)

    def drain(self, max_steps: int = 10_000) -> Execution:
        """Step until no event is due now."""
        for _ in range(max_steps):
            if not any(e.available_at <= self.now for e in self.pending):
                return self.execution
            self.step()
        raise AssertionError("the execution never settled")

    def advance_clock(self, seconds: float) -> Execution:
        self.now += timedelta(seconds=seconds)
        return self.drain()

    # -- queries -------------------------------------------------------------------------------

    def run_of(self, task_id: str, iteration: int | None = None) -> TaskRun:
        found = [r for r in self.runs.values() if r.task_id == task_id and r.iteration == iteration]
        assert len(found) == 1, f"{task_id}: {len(found)} runs"
        return found[0]

    def state(self, task_id: str, iteration: int | None = None) -> StateType:
        return self.run_of(task_id, iteration).state.current

    def states(self) -> dict[str, str]:
        return {
            (r.task_id if r.iteration is None else f"{r.task_id}#{r.iteration}"): r.state.current
            for r in self.runs.values()
        }

    def has_run(self, task_id: str) -> bool:
        return any(r.task_id == task_id for r in self.runs.values())
