"""Metrics API (Kestra ``/api/v1[/{tenant}]/metrics``): an execution's task metrics, and the
names and task ids of a flow's metrics.

``GET /metrics/{executionId}`` pages (``page``, ``size``, ``sort`` over ``timestamp``, ``name``,
``type``, ``value``, ``taskId``) with ``taskId`` or ``taskRunId`` filters, as Kestra's
``MetricController``; an unknown execution has no metrics (an empty page, as there).
Aggregations (``/metrics/aggregates/...``) are not served.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from lanner.api import models
from lanner.api.context import ServicesDep, TenantDep
from lanner.api.ids import ExecutionIdPath, FlowIdPath, NamespacePath
from lanner.api.models import ok
from lanner.api.queries import PageParam, SizeParam, check_paging, parse_sort
from lanner.api.wire import JsonResponse, paged
from lanner.store import MetricQuery

router = APIRouter(tags=["Metrics"], default_response_class=JsonResponse)

SORTABLE = ("timestamp", "name", "type", "value", "taskId")
TaskIdPath = Annotated[str, Path(max_length=255)]


@router.get(
    "/metrics/names/{namespace}/{flowId}",
    summary="The names of a flow's metrics",
    responses=ok(list[str]),
)
async def flow_metric_names(
    namespace: NamespacePath, flowId: FlowIdPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    return await services.store.metric_names(tenant, namespace, flowId)


@router.get(
    "/metrics/names/{namespace}/{flowId}/{taskId}",
    summary="The names of one task's metrics",
    responses=ok(list[str]),
)
async def task_metric_names(
    namespace: NamespacePath,
    flowId: FlowIdPath,
    taskId: TaskIdPath,
    services: ServicesDep,
    tenant: TenantDep,
) -> Any:
    return await services.store.metric_names(tenant, namespace, flowId, taskId)


@router.get(
    "/metrics/tasks/{namespace}/{flowId}",
    summary="The ids of a flow's tasks that recorded metrics",
    responses=ok(list[str]),
)
async def metric_tasks(
    namespace: NamespacePath, flowId: FlowIdPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    return await services.store.metric_tasks(tenant, namespace, flowId)


@router.get(
    "/metrics/{executionId}",
    summary="An execution's metrics",
    responses=ok(models.PagedResults[models.MetricEntry]),
)
async def execution_metrics(
    executionId: ExecutionIdPath,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    page: PageParam = 1,
    size: SizeParam = 10,
    taskRunId: Annotated[str | None, Query(max_length=255)] = None,
    taskId: Annotated[str | None, Query(max_length=255)] = None,
) -> Any:
    check_paging(page, size)
    query = MetricQuery(
        tenant_id=tenant,
        execution_id=executionId,
        task_run_id=taskRunId or None,
        task_id=taskId or None,
        page=page,
        size=size,
        sort=parse_sort(request.query_params.getlist("sort"), SORTABLE),
    )
    found = await services.store.search_metrics(query)
    return paged(found, [entry.to_json() for entry in found.results])
