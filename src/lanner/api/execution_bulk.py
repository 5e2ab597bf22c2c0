"""Executions many at once, and force-run: Kestra's fixed paths, mounted before
``/executions/{namespace}/{id}`` so none of them is ever read as "run a flow".

``POST /executions/replay/by-ids`` (``latestRevision``) and ``POST /executions/resume/by-ids``
take a JSON list of execution ids and answer Kestra's ``BulkResponse`` (``{"count": n}``); an
unknown id (404) or, to resume, one not PAUSED (409) refuses the whole request naming it, and
nothing is done (Kestra answers 400 with a ``BulkErrorResponse`` there). ``POST /executions/{executionId}/force-run`` runs one now: a PAUSED execution
resumes, a CREATED (scheduled) or QUEUED one starts whatever its flow's concurrency (409 else).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request

from lanner.api import models
from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.execution_access import get_or_404
from lanner.api.execution_actions import send_event
from lanner.api.execution_edits import replay_execution
from lanner.api.execution_wire import execution_json
from lanner.api.ids import ExecutionIdPath
from lanner.api.models import json_body, ok
from lanner.api.problems import error_responses
from lanner.api.wire import JsonResponse
from lanner.domain.executions import Execution
from lanner.domain.states import StateType
from lanner.errors import (
    BadRequestError,
    ConflictError,
    ErrorDetail,
    IllegalArgumentError,
    NotFoundError,
)

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)

IDS_BODY = json_body({"type": "array", "items": {"type": "string", "minLength": 1}})


async def _read_ids(request: Request) -> list[str]:
    body = await request.body()
    if not body.strip():
        raise BadRequestError(
            "Required Body [executionsId] not specified",
            [ErrorDetail("executionsId", "a JSON list of execution ids is required")],
        )
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise IllegalArgumentError("Invalid json", [ErrorDetail("body", "invalid JSON")]) from None
    if not isinstance(data, list) or not all(isinstance(item, str) and item for item in data):
        raise IllegalArgumentError(
            "Invalid json mapping", [ErrorDetail("body", "expected a list of execution ids")]
        )
    return list(dict.fromkeys(data))


async def _existing(services: Services, tenant: str, ids: list[str], verb: str) -> list[Execution]:
    store = services.store
    found = {e.id: e for e in [await store.get_execution(tenant, i) for i in ids] if e is not None}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(
            f"invalid bulk {verb}: execution not found: {', '.join(missing)}",
            [ErrorDetail("executionsId", f"execution not found: {i}") for i in missing],
        )
    return [found[i] for i in ids]


@router.post(
    "/executions/replay/by-ids",
    summary="Replay executions (new ids)",
    responses={**ok(models.BulkResponse), **error_responses(400, 404, 409)},
    openapi_extra=IDS_BODY,
)
async def replay_by_ids(
    request: Request, services: ServicesDep, tenant: TenantDep, latestRevision: bool = False
) -> Any:
    executions = await _existing(services, tenant, await _read_ids(request), "replay")
    for execution in executions:
        revision = None
        if latestRevision:
            flow = await services.store.get_flow(tenant, execution.namespace, execution.flow_id)
            revision = flow.revision if flow is not None else None
        await replay_execution(services, tenant, execution.id, None, revision)
    return {"count": len(executions)}


@router.post(
    "/executions/resume/by-ids",
    summary="Resume paused executions",
    responses={**ok(models.BulkResponse), **error_responses(400, 404, 409)},
    openapi_extra=IDS_BODY,
)
async def resume_by_ids(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    executions = await _existing(services, tenant, await _read_ids(request), "resume")
    not_paused = [e.id for e in executions if not e.state.current.is_paused]
    if not_paused:
        raise ConflictError(
            f"invalid bulk resume: execution not paused: {', '.join(not_paused)}",
            [ErrorDetail("executionsId", f"execution not paused: {i}") for i in not_paused],
        )
    for execution in executions:
        await send_event(services, execution.id, "resume", {"inputs": {}})
    return {"count": len(executions)}


@router.post(
    "/executions/{executionId}/force-run",
    summary="Run a paused, scheduled or queued execution now",
    responses={**ok(models.Execution), **error_responses(409)},
)
async def force_run(executionId: ExecutionIdPath, services: ServicesDep, tenant: TenantDep) -> Any:
    execution = await get_or_404(services, tenant, executionId)
    current = execution.state.current
    if not (current.is_paused or current in (StateType.CREATED, StateType.QUEUED)):
        raise ConflictError(
            f"Illegal state: execution '{executionId}' is {current}, it can't be force-run"
        )
    await send_event(services, executionId, "force_run", {})
    return execution_json(execution)
