"""Executions and task runs as table rows (column dicts) and back.

States are stored twice: the current type in an indexed column and the whole history as a JSON
document (``[{"state", "date"}]``); attempts, outputs, inputs, variables, labels, the trigger and
the executor's ``internal`` data are JSON documents; dates are timezone-aware UTC both ways.
Pure functions: imports SQLAlchemy's ``Row`` type, the domain and the standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

from lanner.domain.executions import (
    Attempt,
    Execution,
    ExecutionTrigger,
    State,
    StateHistory,
    TaskRun,
)
from lanner.domain.labels import Label
from lanner.domain.states import StateType


def execution_values(execution: Execution, now: datetime) -> dict[str, Any]:
    """The ``executions`` columns of ``execution`` (``version`` excluded), ``updated`` = now."""
    state = execution.state
    return {
        "tenant_id": execution.tenant_id,
        "id": execution.id,
        "namespace": execution.namespace,
        "flow_id": execution.flow_id,
        "flow_revision": execution.flow_revision,
        "state": state.current.value,
        "state_histories": histories_document(state),
        "labels": labels_document(execution.labels),
        "inputs": execution.inputs,
        "outputs": execution.outputs,
        "variables": execution.variables,
        "trigger": _trigger_document(execution.trigger),
        "parent_id": execution.parent_id,
        "original_id": execution.original_id,
        "kind": execution.kind,
        "attempt_number": execution.attempt_number,
        "scheduled_date": execution.schedule_date,
        "original_created_date": execution.original_created_date,
        "start_date": state.start_date,
        "end_date": state.end_date,
        "deleted": execution.deleted,
        "updated": now,
    }


def task_run_values(task_run: TaskRun, position: int, now: datetime) -> dict[str, Any]:
    """The ``task_runs`` columns of ``task_run`` at ``position`` (kept when it already exists)."""
    state = task_run.state
    return {
        "tenant_id": task_run.tenant_id,
        "id": task_run.id,
        "execution_id": task_run.execution_id,
        "namespace": task_run.namespace,
        "flow_id": task_run.flow_id,
        "task_id": task_run.task_id,
        "parent_task_run_id": task_run.parent_task_run_id,
        "value": task_run.value,
        "iteration": task_run.iteration,
        "position": position,
        "state": state.current.value,
        "state_histories": histories_document(state),
        "attempts": [_attempt_document(attempt) for attempt in task_run.attempts],
        "outputs": task_run.outputs,
        "branch": task_run.branch,
        "internal": task_run.internal or None,
        "start_date": state.start_date,
        "end_date": state.end_date,
        "updated": now,
    }


def to_execution(row: Row[Any]) -> Execution:
    """The execution of an ``executions`` row."""
    return Execution(
        id=row.id,
        tenant_id=row.tenant_id,
        namespace=row.namespace,
        flow_id=row.flow_id,
        flow_revision=row.flow_revision,
        state=to_state(row.state, row.state_histories),
        inputs=row.inputs or {},
        outputs=row.outputs or {},
        labels=to_labels(row.labels),
        variables=row.variables or {},
        parent_id=row.parent_id,
        original_id=row.original_id,
        trigger=_to_trigger(row.trigger),
        attempt_number=row.attempt_number,
        original_created_date=row.original_created_date,
        schedule_date=row.scheduled_date,
        kind=row.kind,
        deleted=row.deleted,
    )


def to_task_run(row: Row[Any]) -> TaskRun:
    """The task run of a ``task_runs`` row."""
    return TaskRun(
        id=row.id,
        tenant_id=row.tenant_id,
        execution_id=row.execution_id,
        namespace=row.namespace,
        flow_id=row.flow_id,
        task_id=row.task_id,
        state=to_state(row.state, row.state_histories),
        parent_task_run_id=row.parent_task_run_id,
        value=row.value,
        iteration=row.iteration,
        attempts=tuple(_to_attempt(document) for document in row.attempts),
        outputs=row.outputs,
        branch=row.branch,
        internal=row.internal or {},
    )


def histories_document(state: State) -> list[dict[str, Any]]:
    """A state's histories as JSON: ``[{"state": "CREATED", "date": datetime}, ...]``."""
    return [{"state": h.state.value, "date": h.date} for h in state.histories]


def to_state(current: str, histories: Sequence[Mapping[str, Any]]) -> State:
    """A state from its current type and its histories document."""
    return State(
        StateType(current),
        tuple(StateHistory(StateType(h["state"]), parse_date(h["date"])) for h in histories),
    )


def labels_document(labels: Sequence[Label]) -> list[dict[str, str]]:
    """Labels as JSON, in their order: ``[{"key": ..., "value": ...}]``."""
    return [label.to_json() for label in labels]


def to_labels(document: Sequence[Mapping[str, str]] | None) -> tuple[Label, ...]:
    """Labels from their JSON document."""
    return tuple(Label(item["key"], item["value"]) for item in document or ())


def parse_date(text: str) -> datetime:
    """A date read from a JSON document, timezone-aware UTC."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _attempt_document(attempt: Attempt) -> dict[str, Any]:
    return {
        "state": attempt.state.current.value,
        "histories": histories_document(attempt.state),
        "workerId": attempt.worker_id,
    }


def _to_attempt(document: Mapping[str, Any]) -> Attempt:
    return Attempt(
        state=to_state(document["state"], document["histories"]),
        worker_id=document.get("workerId"),
    )


def _trigger_document(trigger: ExecutionTrigger | None) -> dict[str, Any] | None:
    if trigger is None:
        return None
    return {"id": trigger.id, "type": trigger.type, "variables": trigger.variables}


def _to_trigger(document: Mapping[str, Any] | None) -> ExecutionTrigger | None:
    if document is None:
        return None
    return ExecutionTrigger(
        id=document["id"], type=document["type"], variables=document.get("variables") or {}
    )
