"""Executions on the wire: Kestra 1.3's ``Execution``, ``TaskRun`` and ``State`` JSON.

Jackson habits kept here: null fields omitted (``TaskRun.outputs`` excepted: always present),
instants ISO-8601 with ``Z``, durations ISO-8601 (``PT1.5S``). ``taskRunList`` is assembled
from the task-run rows, in creation order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lanner.config import Settings
from lanner.domain.executions import Attempt, Execution, State, TaskRun
from lanner.domain.times import format_duration


def state_json(state: State) -> dict[str, Any]:
    """``{current, histories, startDate, endDate?, duration?}`` (1.x: duration once ended)."""
    body: dict[str, Any] = {
        "current": state.current.value,
        "histories": [{"state": h.state.value, "date": h.date} for h in state.histories],
        "startDate": state.start_date,
    }
    end = state.end_date
    if end is not None:
        body["endDate"] = end
        body["duration"] = format_duration(end - state.start_date)
    return body


def _attempt_json(attempt: Attempt) -> dict[str, Any]:
    body: dict[str, Any] = {"state": state_json(attempt.state)}
    if attempt.worker_id is not None:
        body["workerId"] = attempt.worker_id
    return body


def task_run_json(run: TaskRun) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": run.id,
        "tenantId": run.tenant_id,
        "executionId": run.execution_id,
        "namespace": run.namespace,
        "flowId": run.flow_id,
        "taskId": run.task_id,
    }
    if run.parent_task_run_id is not None:
        body["parentTaskRunId"] = run.parent_task_run_id
    if run.value is not None:
        body["value"] = run.value
    body["attempts"] = [_attempt_json(a) for a in run.attempts]
    body["outputs"] = dict(run.outputs) if run.outputs is not None else None
    body["state"] = state_json(run.state)
    if run.iteration is not None:
        body["iteration"] = run.iteration
    return body


def execution_json(
    execution: Execution, task_runs: Sequence[TaskRun] | None = None
) -> dict[str, Any]:
    """Kestra's ``Execution``; ``taskRunList`` only when the execution has task runs."""
    body: dict[str, Any] = {
        "id": execution.id,
        "tenantId": execution.tenant_id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "flowRevision": execution.flow_revision,
    }
    if task_runs:
        body["taskRunList"] = [task_run_json(run) for run in task_runs]
    if execution.inputs:
        body["inputs"] = _plain(execution.inputs)
    if execution.outputs:
        body["outputs"] = _plain(execution.outputs)
    body["labels"] = [label.to_json() for label in execution.labels]
    if execution.variables:
        body["variables"] = _plain(execution.variables)
    body["state"] = state_json(execution.state)
    if execution.parent_id is not None:
        body["parentId"] = execution.parent_id
    body["originalId"] = execution.original_id or execution.id
    if execution.trigger is not None:
        trigger: dict[str, Any] = {"id": execution.trigger.id, "type": execution.trigger.type}
        if execution.trigger.variables:
            trigger["variables"] = _plain(execution.trigger.variables)
        body["trigger"] = trigger
    body["deleted"] = execution.deleted
    body["metadata"] = {
        "attemptNumber": execution.attempt_number,
        "originalCreatedDate": execution.original_created_date or execution.state.start_date,
    }
    if execution.schedule_date is not None:
        body["scheduleDate"] = execution.schedule_date
    if execution.kind is not None:
        body["kind"] = execution.kind
    return body


def execution_url(settings: Settings, execution: Execution) -> str:
    """The UI link Kestra returns on create: ``<url>/ui/<tenant>/executions/<ns>/<flow>/<id>``."""
    return (
        f"{settings.public_url}/ui/{execution.tenant_id}/executions/"
        f"{execution.namespace}/{execution.flow_id}/{execution.id}"
    )


def executions_json(executions: Iterable[Execution]) -> list[dict[str, Any]]:
    """Search results: executions without their task runs (as a page of Kestra's search)."""
    return [execution_json(execution) for execution in executions]


def _plain(value: Any) -> Any:
    """Read-only mappings and tuples as JSON-able dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
