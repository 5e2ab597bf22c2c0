"""Lifecycle actions on one execution: kill, restart, resume, pause, force a task-run state.

The API never moves a running execution itself: it adds an executor event (``kill``,
``restart``, ``resume``, ``pause``, ``state``) and wakes the engine, which applies the
transition exactly once. 1.3 paths answer as Kestra 1.3 does (kill 202, resume 204, pause 200
empty); the 2.0 ``/actions/<verb>`` paths answer with the Execution.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from lanner.api import models
from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.execution_access import executions_of, get_or_404, wait_until, with_task_runs
from lanner.api.execution_create import read_form, uploads_of
from lanner.api.execution_wire import execution_json
from lanner.api.ids import ExecutionIdPath
from lanner.api.models import json_body, ok
from lanner.api.problems import error_responses
from lanner.api.wire import JsonResponse
from lanner.domain.executions import Execution, TaskRun
from lanner.domain.inputs import InputSpec, resume_input_specs
from lanner.domain.states import StateType
from lanner.engine.feeds import WORK_TOPIC, execution_topic
from lanner.engine.submit import parsed_flow
from lanner.errors import ConflictError, ErrorDetail, IllegalArgumentError, NotFoundError
from lanner.storage import input_file_path, uri_of
from lanner.store import NewEvent

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)

ACK_WAIT_S = 2.0
"""How long an action that answers with the Execution waits for the engine to take it."""
RESTARTABLE_TASK_STATES = frozenset(
    {StateType.FAILED, StateType.KILLED, StateType.PAUSED, StateType.CANCELLED}
)


async def send_event(services: Services, execution_id: str, kind: str, payload: Any) -> None:
    await executions_of(services).add_events([NewEvent(execution_id, kind, payload)])
    services.feed.publish(WORK_TOPIC)


async def answer_after(
    services: Services, tenant: str, before: Execution, is_taken: Callable[[Execution], bool]
) -> Any:
    """The execution once the engine took the request (or after ``ACK_WAIT_S``), as JSON."""
    await wait_until(services, tenant, before.id, is_taken, timeout_s=ACK_WAIT_S)
    execution, runs = await with_task_runs(services, tenant, before.id)
    return execution_json(execution, runs)


def _changed(before: Execution) -> Callable[[Execution], bool]:
    return lambda now: now.state.histories != before.state.histories


# --- kill ----------------------------------------------------------------------------------------


async def _kill(services: Services, tenant: str, execution_id: str, cascade: bool) -> Execution:
    execution = await get_or_404(services, tenant, execution_id)
    if execution.state.is_terminated:
        # Kestra: a finished execution still answers 202 unless cascade is off.
        if not cascade:
            raise ConflictError(f"Execution '{execution_id}' is already terminated")
        return execution
    await send_event(services, execution_id, "kill", {"cascade": cascade})
    return execution


@router.delete(
    "/executions/{executionId}/kill",
    status_code=202,
    summary="Kill an execution",
    response_class=Response,
    responses=error_responses(409),
)
async def kill(
    executionId: ExecutionIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    isOnKillCascade: bool = True,
) -> Response:
    await _kill(services, tenant, executionId, isOnKillCascade)
    return Response(status_code=202)


@router.post(
    "/executions/{executionId}/actions/kill",
    summary="Kill an execution (2.0)",
    responses={**ok(models.Execution), **error_responses(409)},
)
async def kill_action(
    executionId: ExecutionIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    isOnKillCascade: bool = True,
) -> Any:
    before = await _kill(services, tenant, executionId, isOnKillCascade)
    return await answer_after(services, tenant, before, _changed(before))


# --- restart -------------------------------------------------------------------------------------


async def _restart(
    services: Services, tenant: str, execution_id: str, task_run_id: str | None
) -> Execution:
    execution, runs = await with_task_runs(services, tenant, execution_id)
    if not (execution.state.is_terminated or execution.state.current.is_paused):
        raise ConflictError(
            f"Illegal state: execution '{execution_id}' is not terminated, it can't be restarted"
        )
    if task_run_id is not None:
        if not any(run.id == task_run_id for run in runs):
            raise NotFoundError(f"Task run '{task_run_id}' not found in execution '{execution_id}'")
    elif not any(run.state.current in RESTARTABLE_TASK_STATES for run in runs):
        raise IllegalArgumentError(
            "Illegal argument: No task found to restart execution from!",
            [ErrorDetail("taskRunId", "no failed or paused task run")],
        )
    await send_event(services, execution_id, "restart", {"taskRunId": task_run_id})
    return execution


def _restarted(before: Execution) -> Callable[[Execution], bool]:
    return lambda now: now.attempt_number > before.attempt_number or _changed(before)(now)


@router.post(
    "/executions/{executionId}/restart",
    summary="Restart an execution",
    responses={**ok(models.Execution), **error_responses(409)},
)
@router.post(
    "/executions/{executionId}/actions/restart",
    summary="Restart an execution (2.0)",
    responses={**ok(models.Execution), **error_responses(409)},
)
async def restart(
    executionId: ExecutionIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    taskRunId: str | None = None,
) -> Any:
    before = await _restart(services, tenant, executionId, taskRunId)
    return await answer_after(services, tenant, before, _restarted(before))


# --- resume and pause ------------------------------------------------------------------------------


def resume_specs(raw: Any) -> tuple[InputSpec, ...]:
    """A Pause task's ``onResume`` declarations (already validated at flow save)."""
    return resume_input_specs(raw)


async def _paused_specs(
    services: Services, execution: Execution, runs: list[TaskRun]
) -> tuple[InputSpec, ...]:
    stored = await services.store.get_flow(
        execution.tenant_id,
        execution.namespace,
        execution.flow_id,
        revision=execution.flow_revision,
        allow_deleted=True,
    )
    if stored is None:
        return ()
    flow = parsed_flow(stored.source)
    specs: list[InputSpec] = []
    for run in runs:
        if run.state.current.is_paused:
            task = flow.find_task(run.task_id)
            if task is not None:
                specs.extend(resume_specs(task.properties.get("onResume")))
    return tuple(specs)


async def _resume(
    request: Request, services: Services, tenant: str, execution_id: str
) -> Execution:
    execution, runs = await with_task_runs(services, tenant, execution_id)
    if not execution.state.current.is_paused:
        raise ConflictError(
            f"Illegal state: execution '{execution_id}' is not paused, can't resume it"
        )
    specs = await _paused_specs(services, execution, runs)
    form = await read_form(request)
    uploads = uploads_of(specs, form)
    submitted: dict[str, Any] = dict(form.values)
    for upload in uploads:
        submitted[upload.input_id] = uri_of(
            input_file_path(
                execution.namespace, execution.flow_id, execution.id, upload.input_id,
                upload.filename,
            )
        )  # fmt: skip
    # Resume inputs become task outputs: typed, not encrypted.
    submitter = services.submitter
    if specs:
        inputs = await submitter.inputs.coerce(specs, submitted, encrypt=None, context=None)
    else:
        inputs = submitted
    await submitter.store_files(execution, uploads)
    await send_event(services, execution_id, "resume", {"inputs": inputs})
    return execution


@router.post(
    "/executions/{executionId}/resume",
    status_code=204,
    summary="Resume a paused run",
    response_class=Response,
    responses=error_responses(409),
)
async def resume(
    executionId: ExecutionIdPath, request: Request, services: ServicesDep, tenant: TenantDep
) -> Response:
    await _resume(request, services, tenant, executionId)
    return Response(status_code=204)


@router.post(
    "/executions/{executionId}/actions/resume",
    summary="Resume a paused run (2.0)",
    responses={**ok(models.Execution), **error_responses(409)},
)
async def resume_action(
    executionId: ExecutionIdPath, request: Request, services: ServicesDep, tenant: TenantDep
) -> Any:
    before = await _resume(request, services, tenant, executionId)
    return await answer_after(services, tenant, before, _changed(before))


async def _pause(services: Services, tenant: str, execution_id: str) -> Execution:
    execution = await get_or_404(services, tenant, execution_id)
    current = execution.state.current
    if current.is_terminated or current.is_paused or current is StateType.QUEUED:
        raise ConflictError(
            f"Illegal state: execution '{execution_id}' is {execution.state.current}, "
            "it can't be paused"
        )
    await send_event(services, execution_id, "pause", {})
    return execution


@router.post(
    "/executions/{executionId}/pause",
    summary="Pause a running execution",
    response_class=Response,
    responses=error_responses(409),
)
async def pause(executionId: ExecutionIdPath, services: ServicesDep, tenant: TenantDep) -> Response:
    await _pause(services, tenant, executionId)
    return Response(status_code=200)


@router.post(
    "/executions/{executionId}/actions/pause",
    summary="Pause an execution (2.0)",
    responses={**ok(models.Execution), **error_responses(409)},
)
async def pause_action(
    executionId: ExecutionIdPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    before = await _pause(services, tenant, executionId)
    return await answer_after(services, tenant, before, _changed(before))


# --- force a task-run state ---------------------------------------------------------------------------


@router.post(
    "/executions/{executionId}/state",
    summary="Force the state of a task run",
    responses={**ok(models.Execution), **error_responses(409)},
    openapi_extra=json_body(
        {
            "type": "object",
            "properties": {
                "taskRunId": {"type": "string"},
                "state": {"enum": [s.value for s in StateType if s.is_terminated]},
            },
            "required": ["taskRunId", "state"],
        }
    ),
)
async def set_task_run_state(
    executionId: ExecutionIdPath, request: Request, services: ServicesDep, tenant: TenantDep
) -> Any:
    try:
        body = await request.json() if await request.body() else {}
    except ValueError:  # not JSON, or not UTF-8
        raise IllegalArgumentError(
            "Invalid json: body is not JSON", [ErrorDetail("body", "invalid JSON")]
        ) from None
    if not isinstance(body, dict):
        raise IllegalArgumentError("Illegal argument: body must be a JSON object")
    task_run_id, state = body.get("taskRunId"), str(body.get("state", "")).upper()
    target = StateType.__members__.get(state)
    if target is None or not target.is_terminated:
        raise IllegalArgumentError(
            f"Illegal argument: invalid state '{body.get('state')}'",
            [ErrorDetail("state", "expected a terminal state (SUCCESS, WARNING, FAILED...)")],
        )
    before, runs = await with_task_runs(services, tenant, executionId)
    if not any(run.id == task_run_id for run in runs):
        raise NotFoundError(f"Task run '{task_run_id}' not found in execution '{executionId}'")
    if before.state.current in (StateType.CREATED, StateType.QUEUED, StateType.KILLING):
        raise ConflictError(
            f"Illegal state: execution '{executionId}' is {before.state.current}, "
            "its task runs can't be changed"
        )
    # Subscribe first: the engine's change cannot slip between the event and the wait.
    with services.feed.subscribe(execution_topic(executionId)) as changes:
        await send_event(services, executionId, "state", {"taskRunId": task_run_id, "state": state})
        deadline = time.monotonic() + ACK_WAIT_S
        while True:
            execution, runs = await with_task_runs(services, tenant, executionId)
            run = next((r for r in runs if r.id == task_run_id), None)
            # The execution is read before its task runs: a run already in ``target`` beside
            # a still-ended execution is a commit that fell between the two reads (an ended
            # execution is always reopened by the change), so read again.
            is_taken = _changed(before)(execution) or (
                run is not None and run.state.current is target and not before.state.is_terminated
            )
            remaining = deadline - time.monotonic()
            if is_taken or remaining <= 0:
                return execution_json(execution, runs)
            await changes.wait(min(remaining, 0.5))


def publish_change(services: Services, execution_id: str) -> None:
    """Tell followers an execution changed outside the engine (labels, status)."""
    services.feed.publish(execution_topic(execution_id))
