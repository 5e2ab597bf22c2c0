"""Builders of executions, task runs and steps for the execution store's contract tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from lanner.domain.executions import Attempt, Execution, ExecutionTrigger, State, TaskRun
from lanner.domain.labels import Label
from lanner.domain.states import StateType
from lanner.store import DEFAULT_TENANT

T0 = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def execution(
    execution_id: str = "exec1",
    *,
    namespace: str = "company.team",
    flow_id: str = "hello",
    tenant_id: str = DEFAULT_TENANT,
    state: StateType = StateType.CREATED,
    start: datetime = T0,
    labels: Mapping[str, str] | None = None,
    parent_id: str | None = None,
    **fields: Any,
) -> Execution:
    """A small execution created at ``start`` (and moved to ``state`` a second later)."""
    current = State.of(StateType.CREATED, start)
    if state is not StateType.CREATED:
        current = current.to(state, start + timedelta(seconds=1))
    return Execution(
        id=execution_id,
        tenant_id=tenant_id,
        namespace=namespace,
        flow_id=flow_id,
        flow_revision=1,
        state=current,
        labels=tuple(Label(k, v) for k, v in (labels or {}).items()),
        parent_id=parent_id,
        **fields,
    )


def full_execution(execution_id: str = "full") -> Execution:
    """An execution with every field set, documents in a non-alphabetical key order."""
    state = (
        State.of(StateType.CREATED, at(0))
        .to(StateType.RUNNING, at(0.5))
        .to(StateType.PAUSED, at(2.000001))
    )
    return Execution(
        id=execution_id,
        tenant_id="acme",
        namespace="company.team.sub",
        flow_id="everything",
        flow_revision=7,
        state=state,
        inputs={"zeta": 1, "alpha": {"y": [1, 2.5, None], "b": True}, "mid": "ünïcode"},
        outputs={"z": "last", "a": {"nested": {"k2": 1, "k1": 2}}},
        labels=(Label("team", "data"), Label("env", "prod"), Label("env", "canary")),
        variables={"v2": "two", "v1": 1},
        parent_id="parent1",
        original_id="original1",
        trigger=ExecutionTrigger(id="every-minute", type="Schedule", variables={"date": "x"}),
        attempt_number=3,
        original_created_date=at(-3600),
        schedule_date=at(60),
        kind="NORMAL",
    )


def task_run(
    task_run_id: str,
    parent: Execution,
    *,
    task_id: str | None = None,
    state: StateType = StateType.CREATED,
    start: datetime = T0,
    outputs: Mapping[str, Any] | None = None,
    **fields: Any,
) -> TaskRun:
    """A task run of ``parent`` (task id defaults to the task run id)."""
    current = State.of(StateType.CREATED, start)
    if state is not StateType.CREATED:
        current = current.to(state, start + timedelta(seconds=1))
    return TaskRun(
        id=task_run_id,
        tenant_id=parent.tenant_id,
        execution_id=parent.id,
        namespace=parent.namespace,
        flow_id=parent.flow_id,
        task_id=task_id or task_run_id,
        state=current,
        outputs=outputs,
        **fields,
    )


def full_task_run(parent: Execution, task_run_id: str = "tr-full") -> TaskRun:
    """A task run with every field set (attempts, outputs, loop value, branch, internal)."""
    running = State.of(StateType.CREATED, at(1)).to(StateType.RUNNING, at(1.25))
    first = running.to(StateType.FAILED, at(2))
    return TaskRun(
        id=task_run_id,
        tenant_id=parent.tenant_id,
        execution_id=parent.id,
        namespace=parent.namespace,
        flow_id=parent.flow_id,
        task_id="each",
        state=running.to(StateType.RETRYING, at(2)).to(StateType.RUNNING, at(3)),
        parent_task_run_id="tr-parent",
        value='{"k": "v"}',
        iteration=4,
        attempts=(Attempt(first, worker_id="w1"), Attempt(running, worker_id=None)),
        outputs={"values": ["b", "a"], "count": 2, "z": None, "a": 1.5},
        branch="then",
        internal={"resolved": ["x", "y"], "index": 0},
    )
