"""Edits that make or rewrite finished executions: replay, labels, change-status.

These only touch terminated executions, which the engine no longer advances, so the API writes
them itself through the store's step API (one transaction) and tells followers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from lanner.api import models
from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.execution_access import executions_of, get_or_404, with_task_runs
from lanner.api.execution_actions import publish_change
from lanner.api.execution_wire import execution_json
from lanner.api.ids import ExecutionIdPath
from lanner.api.models import json_body, ok
from lanner.api.queries import RevisionParam
from lanner.api.wire import JsonResponse
from lanner.domain.executions import Execution, TaskRun, new_id
from lanner.domain.labels import REPLAY_LABEL, Label, label_text, with_label
from lanner.domain.states import StateType
from lanner.engine.feeds import WORK_TOPIC
from lanner.engine.submit import rerun_of
from lanner.errors import (
    BadRequestError,
    ErrorDetail,
    IllegalArgumentError,
    NotFoundError,
)
from lanner.store import ExecutionStep, NewEvent

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)


# --- replay --------------------------------------------------------------------------------------


def _copied_runs(runs: list[TaskRun], execution_id: str) -> tuple[list[TaskRun], dict[str, str]]:
    """The task runs under new ids for ``execution_id`` (parents remapped), and the id map."""
    ids = {run.id: new_id() for run in runs}
    copies = [
        replace(
            run,
            id=ids[run.id],
            execution_id=execution_id,
            parent_task_run_id=ids.get(run.parent_task_run_id or "", run.parent_task_run_id),
        )
        for run in runs
    ]
    return copies, ids


async def replay_execution(
    services: Services,
    tenant: str,
    execution_id: str,
    task_run_id: str | None,
    revision: int | None,
) -> Execution:
    source, runs = await with_task_runs(services, tenant, execution_id)
    if task_run_id is not None and not any(run.id == task_run_id for run in runs):
        raise NotFoundError(f"Task run '{task_run_id}' not found in execution '{execution_id}'")
    flow_revision = revision if revision is not None else source.flow_revision
    stored = await services.store.get_flow(
        tenant, source.namespace, source.flow_id, revision=flow_revision, allow_deleted=True
    )
    if stored is None:
        raise NotFoundError("Requested Flow is not found.")
    now = datetime.now(UTC)
    replay_id = new_id()
    replay = rerun_of(source, replay_id, now, flow_revision=stored.revision)
    replay = replace(replay, labels=with_label(replay.labels, REPLAY_LABEL))
    if task_run_id is None:
        return await services.submitter.resubmit(replay)
    # From a task run: the copy starts as the original ended, then restarts from there.
    copies, ids = _copied_runs(runs, replay_id)
    replay = replace(replay, state=source.state, outputs=source.outputs)
    restart = NewEvent(replay_id, "restart", {"taskRunId": ids[task_run_id]})
    step = ExecutionStep(replay_id, execution=replay, task_runs=tuple(copies), events=(restart,))
    await executions_of(services).apply_steps([step])
    services.feed.publish(WORK_TOPIC)
    return replay


@router.post(
    "/executions/{executionId}/replay",
    summary="Replay an execution (new id)",
    responses=ok(models.Execution),
)
@router.post(
    "/executions/{executionId}/actions/replay",
    summary="Replay an execution (2.0)",
    responses=ok(models.Execution),
)
async def replay(
    executionId: ExecutionIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    taskRunId: str | None = None,
    revision: RevisionParam = None,
) -> Any:
    return execution_json(
        await replay_execution(services, tenant, executionId, taskRunId, revision)
    )


# Kestra's label key; system labels (``system.``) are Kestra's own.
LABEL_KEY_PATTERN = r"^[a-rt-z][a-z0-9._-]*$"


def _labels_body(body: Any) -> list[Label]:
    if not isinstance(body, list):
        raise IllegalArgumentError(
            "Illegal argument: labels must be a JSON list of {key, value}",
            [ErrorDetail("body", "expected a list of {key, value}")],
        )
    labels = []
    for i, item in enumerate(body):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise IllegalArgumentError(
                f"Illegal argument: label [{i}] must have a key and a value",
                [ErrorDetail(f"[{i}]", "expected {key, value}")],
            )
        labels.append(Label(item["key"], label_text(item.get("value"))))
    return labels


async def _write(services: Services, updated: Execution) -> Any:
    await executions_of(services).apply_steps([ExecutionStep(updated.id, execution=updated)])
    publish_change(services, updated.id)
    _, runs = await with_task_runs(services, updated.tenant_id, updated.id)
    return execution_json(updated, runs)


@router.post(
    "/executions/{executionId}/labels",
    summary="Set labels on a finished execution",
    responses=ok(models.Execution),
    openapi_extra=json_body(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string", "pattern": LABEL_KEY_PATTERN},
                    "value": {"type": "string"},
                },
                "required": ["key", "value"],
            },
        }
    ),
)
async def set_labels(
    executionId: ExecutionIdPath, request: Request, services: ServicesDep, tenant: TenantDep
) -> Any:
    try:
        body = await request.json()
    except ValueError:
        raise IllegalArgumentError(
            "Invalid json: body is not JSON", [ErrorDetail("body", "invalid JSON")]
        ) from None
    labels = _labels_body(body)
    execution = await get_or_404(services, tenant, executionId)
    if not execution.state.is_terminated:
        raise BadRequestError(
            f"Bad Request: execution '{executionId}' is not terminated, labels can't be changed"
        )
    merged = {label.key: label.value for label in execution.labels}
    for label in labels:
        if label.is_system and merged.get(label.key) != label.value:
            raise IllegalArgumentError(
                f"Illegal argument: System labels can only be set by Kestra itself, "
                f"offending label: {label.key}={label.value}",
                [ErrorDetail("labels", f"system label {label.key}")],
            )
        merged[label.key] = label.value
    updated = replace(execution, labels=tuple(Label(k, v) for k, v in merged.items()))
    return await _write(services, updated)


@router.post(
    "/executions/{executionId}/change-status",
    summary="Change a finished run's status",
    responses=ok(models.Execution),
)
async def change_status(
    executionId: ExecutionIdPath, services: ServicesDep, tenant: TenantDep, status: str
) -> Any:
    target = StateType.__members__.get(status.upper())
    execution = await get_or_404(services, tenant, executionId)
    if target is None or not target.is_terminated:
        raise IllegalArgumentError(
            f"Illegal argument: status '{status}' is not a terminal state",
            [ErrorDetail("status", "must be a terminal state")],
        )
    if not execution.state.is_terminated:
        raise IllegalArgumentError(
            f"Illegal argument: execution '{executionId}' is not terminated",
            [ErrorDetail("status", "the execution must be terminated")],
        )
    updated = execution.with_state(target, datetime.now(UTC))
    return await _write(services, updated)
