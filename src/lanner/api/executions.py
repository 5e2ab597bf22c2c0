"""Reading and deleting executions: get, search, list by flow, delete, task-run outputs.

``GET /executions/search`` takes the legacy parameters (``q``, ``namespace``, ``flowId``,
``state``, ``labels``, ``startDate``, ``endDate``, ``timeRange``) and 1.x's
``filters[field][OP]=``; ``GET /executions`` (the user's reference) requires ``namespace`` and
``flowId`` and filters by ``state``. Task-run outputs are served at the user's
``/executions/{id}/taskruns/{taskRunId}/outputs`` and 2.0's ``/outputs/{id}[/{taskRunId}]``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from lanner.api import models
from lanner.api.context import ServicesDep, TenantDep
from lanner.api.execution_access import (
    executions_of,
    get_or_404,
    storage_of,
    with_task_runs,
)
from lanner.api.execution_create import parse_instant
from lanner.api.execution_wire import execution_json, executions_json
from lanner.api.ids import ExecutionIdPath, TaskRunIdPath
from lanner.api.models import ok
from lanner.api.queries import (
    PageParam,
    QueryFilter,
    SizeParam,
    check_paging,
    parse_filters,
    parse_labels,
    parse_sort,
    parse_time_range,
)
from lanner.api.wire import JsonResponse, paged
from lanner.domain.states import StateType
from lanner.errors import BadRequestError, ErrorDetail, IllegalArgumentError, NotFoundError
from lanner.storage import execution_prefix
from lanner.store import ExecutionQuery

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)
outputs_router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)

SORTABLE = ("id", "namespace", "flowId", "state.current", "state.startDate", "state.endDate")
_EQUALITY = frozenset({"EQUALS", "IN"})
_PREFIXES = frozenset({"EQUALS", "PREFIX", "STARTS_WITH"})
_LOWER_BOUNDS = frozenset({"GREATER_THAN", "GREATER_THAN_OR_EQUAL_TO", "EQUALS"})
_UPPER_BOUNDS = frozenset({"LESS_THAN", "LESS_THAN_OR_EQUAL_TO"})
_IGNORED_FIELDS = frozenset({"scope", "childFilter", "kind"})


def _unsupported(item: QueryFilter) -> IllegalArgumentError:
    name = f"filters[{item.field}][{item.operation}]"
    return IllegalArgumentError(
        f"Illegal argument: filter '{name}' is not supported on executions",
        [ErrorDetail(name, "unsupported filter")],
    )


def _states(values: list[str]) -> tuple[StateType, ...]:
    states = []
    for raw in values:
        for part in raw.strip("[]").split(","):
            name = part.strip().upper()
            if not name:
                continue
            try:
                states.append(StateType(name))
            except ValueError:
                raise IllegalArgumentError(
                    f"Illegal argument: unknown state '{part}'",
                    [ErrorDetail("state", f"unknown state {part}")],
                ) from None
    return tuple(states)


def execution_query(request: Request, tenant: str, page: int, size: int) -> ExecutionQuery:
    """Legacy parameters and ``filters[...]`` as an :class:`ExecutionQuery`."""
    params = request.query_params
    q = params.get("q") or None
    namespace = params.get("namespace") or None
    flow_id = params.get("flowId") or None
    states = list(params.getlist("state"))
    labels = parse_labels(params.getlist("labels"))
    start = parse_instant(params["startDate"], "startDate") if params.get("startDate") else None
    end = parse_instant(params["endDate"], "endDate") if params.get("endDate") else None
    time_range = params.get("timeRange") or None
    for item in parse_filters(params.multi_items()):
        op = item.operation
        if item.field == "q":
            q = item.value
        elif item.field == "namespace" and op in _PREFIXES:
            namespace = item.value
        elif item.field == "flowId" and op == "EQUALS":
            flow_id = item.value
        elif item.field == "state" and op in _EQUALITY:
            states.append(item.value)
        elif item.field == "labels" and op == "EQUALS":
            labels.update({item.key: item.value} if item.key else parse_labels([item.value]))
        elif item.field == "startDate" and op in _LOWER_BOUNDS:
            start = parse_instant(item.value, "startDate")
        elif item.field in ("startDate", "endDate") and op in _UPPER_BOUNDS:
            end = parse_instant(item.value, item.field)
        elif item.field == "timeRange" and op == "EQUALS":
            time_range = item.value
        elif item.field not in _IGNORED_FIELDS:
            raise _unsupported(item)
    if time_range is not None:
        if start is not None:
            raise IllegalArgumentError(
                "Illegal argument: Parameters 'startDate' and 'timeRange' are mutually exclusive",
                [ErrorDetail("timeRange", "mutually exclusive with startDate")],
            )
        start = parse_time_range(time_range)
    if start is not None and end is not None and end < start:
        raise IllegalArgumentError(
            "Illegal argument: Start date must be before End Date",
            [ErrorDetail("endDate", "must be after startDate")],
        )
    return ExecutionQuery(
        tenant_id=tenant,
        namespace=namespace,
        flow_id=flow_id,
        states=_states(states),
        labels=labels,
        q=q,
        start_date=start,
        end_date=end,
        page=page,
        size=size,
        sort=parse_sort(params.getlist("sort"), SORTABLE),
    )


# ``GET /executions`` reads these two itself (400 when one is missing, as Kestra).
FLOW_FILTER: dict[str, Any] = {
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        }
        for name in ("namespace", "flowId")
    ]
}


@router.get(
    "/executions/search",
    summary="Search executions",
    responses=ok(models.PagedResults[models.Execution]),
)
async def search_executions(
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    page: PageParam = 1,
    size: SizeParam = 10,
) -> Any:
    check_paging(page, size)
    query = execution_query(request, tenant, page, size)
    result = await executions_of(services).search_executions(query)
    return paged(result, executions_json(result.results))


@router.get(
    "/executions",
    summary="Executions of one flow (optionally in some states)",
    responses=ok(models.PagedResults[models.Execution]),
    openapi_extra=FLOW_FILTER,
)
async def list_flow_executions(
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    page: PageParam = 1,
    size: SizeParam = 10,
) -> Any:
    params = request.query_params
    missing = [name for name in ("namespace", "flowId") if not params.get(name)]
    if missing:
        details = [
            ErrorDetail(name, f"Required argument [{name}] not specified") for name in missing
        ]
        raise BadRequestError(
            "Bad Request: " + "; ".join(detail.message for detail in details), details
        )
    check_paging(page, size)
    query = execution_query(request, tenant, page, size)
    result = await executions_of(services).search_executions(query)
    return paged(result, executions_json(result.results))


@router.get("/executions/{executionId}", summary="Get an execution", responses=ok(models.Execution))
async def get_execution(
    executionId: ExecutionIdPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    execution, runs = await with_task_runs(services, tenant, executionId)
    return execution_json(execution, runs)


@router.delete(
    "/executions/{executionId}",
    status_code=204,
    summary="Delete an execution",
    response_class=Response,
)
async def delete_execution(
    executionId: ExecutionIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    deleteStorage: bool = True,
    deleteMetrics: bool = True,
) -> Response:
    execution = await get_or_404(services, tenant, executionId)
    if not await executions_of(services).delete_execution(tenant, executionId):
        raise NotFoundError(f"Execution '{executionId}' not found")
    if deleteMetrics:
        await services.store.delete_execution_metrics(tenant, executionId)
    if deleteStorage:
        prefix = execution_prefix(execution.namespace, execution.flow_id, execution.id)
        await storage_of(services).delete_tree(tenant, prefix)
    return Response(status_code=204)


# --- task-run outputs --------------------------------------------------------------------------


async def _task_run_outputs(
    services: ServicesDep, tenant: str, execution_id: str, task_run_id: str
) -> Any:
    _, runs = await with_task_runs(services, tenant, execution_id)
    for run in runs:
        if run.id == task_run_id:
            return dict(run.outputs or {})
    raise NotFoundError(f"Task run '{task_run_id}' not found in execution '{execution_id}'")


@router.get(
    "/executions/{executionId}/taskruns/{taskRunId}/outputs",
    summary="Outputs of a task run",
    responses=ok(dict[str, Any]),
)
async def task_run_outputs(
    executionId: ExecutionIdPath, taskRunId: TaskRunIdPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    return await _task_run_outputs(services, tenant, executionId, taskRunId)


@outputs_router.get(
    "/outputs/{executionId}/{taskRunId}",
    summary="Outputs of a task run (2.0)",
    responses=ok(dict[str, Any]),
)
async def outputs_of_task_run(
    executionId: ExecutionIdPath, taskRunId: TaskRunIdPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    return await _task_run_outputs(services, tenant, executionId, taskRunId)


@outputs_router.get(
    "/outputs/{executionId}",
    summary="Outputs of every task run (2.0)",
    responses=ok(list[models.TaskRunOutputs]),
)
async def outputs_of_execution(
    executionId: ExecutionIdPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    _, runs = await with_task_runs(services, tenant, executionId)
    results = []
    for run in runs:
        entry: dict[str, Any] = {"taskRunId": run.id, "taskId": run.task_id}
        if run.value is not None:
            entry["value"] = run.value
        entry["outputs"] = dict(run.outputs) if run.outputs is not None else None
        results.append(entry)
    return results
