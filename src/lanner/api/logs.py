"""Logs API (Kestra ``/api/v1[/{tenant}]/logs``): search, list, download and delete lines.

``GET /logs/search`` pages over every line of the tenant with the legacy parameters (``q``,
``namespace``, ``flowId``, ``triggerId``, ``minLevel``, ``startDate``, ``endDate``,
``timeRange``) and 1.x's ``filters[field][OP]=`` (``level`` is a minimum level, as in Kestra);
it is declared before ``/logs/{executionId}``. An execution's lines are listed in write order
with ``minLevel``, ``taskRunId``, ``taskId`` and ``attempt``; the download streams them as
text, page by page. Following them live is :mod:`lanner.api.log_follow`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from lanner.api import models
from lanner.api.context import ServicesDep, TenantDep
from lanner.api.execution_create import parse_instant
from lanner.api.ids import ExecutionIdPath, FlowIdPath, NamespacePath
from lanner.api.models import ok
from lanner.api.queries import (
    INT_MAX,
    PageParam,
    QueryFilter,
    SizeParam,
    check_paging,
    parse_filters,
    parse_sort,
    parse_time_range,
)
from lanner.api.wire import JsonResponse, content_disposition, paged
from lanner.domain.logs import LogEntry, LogLevel
from lanner.errors import ErrorDetail, IllegalArgumentError
from lanner.store import LogQuery, Store

router = APIRouter(tags=["Logs"], default_response_class=JsonResponse)

DOWNLOAD_PAGE_LINES = 5_000
SORTABLE = ("timestamp", "level", "namespace", "flowId", "executionId", "taskId")
_PREFIXES = frozenset({"EQUALS", "PREFIX", "STARTS_WITH"})
_LOWER_BOUNDS = frozenset({"GREATER_THAN", "GREATER_THAN_OR_EQUAL_TO", "EQUALS"})
_UPPER_BOUNDS = frozenset({"LESS_THAN", "LESS_THAN_OR_EQUAL_TO"})
_IGNORED_FIELDS = frozenset({"scope", "kind"})


def parse_level(value: str | None, name: str = "minLevel") -> LogLevel | None:
    if value is None or value == "":
        return None
    text = value.strip().upper()
    try:
        return LogLevel("WARN" if text == "WARNING" else text)
    except ValueError:
        raise IllegalArgumentError(
            f"Illegal argument: {name} must be one of {', '.join(LogLevel)}",
            [ErrorDetail(name, "unknown level")],
        ) from None


def log_json(entry: LogEntry) -> dict[str, Any]:
    """Kestra's ``LogEntry`` body (nulls omitted, ``attemptNumber`` always present)."""
    body: dict[str, Any] = {
        "tenantId": entry.tenant_id,
        "namespace": entry.namespace,
        "flowId": entry.flow_id,
        "taskId": entry.task_id,
        "executionId": entry.execution_id,
        "taskRunId": entry.task_run_id,
        "triggerId": entry.trigger_id,
        "timestamp": entry.timestamp,
        "level": entry.level.value,
        "thread": entry.thread,
        "message": entry.message,
    }
    body = {key: value for key, value in body.items() if value is not None}
    body["attemptNumber"] = entry.attempt_number
    body["deleted"] = False
    return body


def log_line(entry: LogEntry) -> str:
    """One line of the text download: ``<timestamp> <LEVEL> [<taskId>] <message>``."""
    stamp = entry.timestamp.isoformat().replace("+00:00", "Z")
    where = f" [{entry.task_id}]" if entry.task_id else ""
    return f"{stamp} {entry.level.value}{where} {entry.message}"


@dataclass(frozen=True, slots=True)
class LineFilters:
    """An execution's line filters from the query string (list, download, follow, delete)."""

    min_level: LogLevel | None = None
    task_run_id: str | None = None
    task_id: str | None = None
    attempt: int | None = None

    @classmethod
    def of(cls, request: Request) -> LineFilters:
        params = request.query_params
        attempt = params.get("attempt")
        try:
            attempt_number = int(attempt) if attempt else None
            if attempt_number is not None and abs(attempt_number) > INT_MAX:
                raise ValueError(attempt)
        except ValueError:
            raise IllegalArgumentError(
                "Illegal argument: attempt must be an integer",
                [ErrorDetail("attempt", "not an integer")],
            ) from None
        return cls(
            min_level=parse_level(params.get("minLevel")),
            task_run_id=params.get("taskRunId") or None,
            task_id=params.get("taskId") or None,
            attempt=attempt_number,
        )

    async def read(
        self,
        store: Store,
        tenant: str,
        execution_id: str,
        *,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        return await store.list_logs(
            tenant,
            execution_id,
            min_level=self.min_level,
            task_run_id=self.task_run_id,
            task_id=self.task_id,
            attempt=self.attempt,
            after_seq=after_seq,
            limit=limit,
        )


def _unsupported(item: QueryFilter) -> IllegalArgumentError:
    name = f"filters[{item.field}][{item.operation}]"
    return IllegalArgumentError(
        f"Illegal argument: filter '{name}' is not supported on logs",
        [ErrorDetail(name, "unsupported filter")],
    )


def log_query(request: Request, tenant: str, page: int, size: int) -> LogQuery:
    """Legacy parameters and ``filters[...]`` as a :class:`LogQuery`."""
    params = request.query_params
    values: dict[str, str | None] = {
        name: params.get(name) or None
        for name in ("q", "namespace", "flowId", "triggerId", "executionId", "timeRange")
    }
    level = parse_level(params.get("minLevel"))
    start = parse_instant(params["startDate"], "startDate") if params.get("startDate") else None
    end = parse_instant(params["endDate"], "endDate") if params.get("endDate") else None
    for item in parse_filters(params.multi_items()):
        field, op = item.field, item.operation
        if field == "q" or (field in ("flowId", "triggerId", "executionId") and op == "EQUALS"):
            values[field] = item.value
        elif field == "namespace" and op in _PREFIXES:
            values["namespace"] = item.value
        elif field in ("level", "minLevel") and op in ("EQUALS", "GREATER_THAN_OR_EQUAL_TO"):
            level = parse_level(item.value, f"filters[{field}]")
        elif field in ("startDate", "timestamp") and op in _LOWER_BOUNDS:
            start = parse_instant(item.value, field)
        elif field in ("startDate", "endDate", "timestamp") and op in _UPPER_BOUNDS:
            end = parse_instant(item.value, field)
        elif field == "timeRange" and op == "EQUALS":
            values["timeRange"] = item.value
        elif field not in _IGNORED_FIELDS:
            raise _unsupported(item)
    if values["timeRange"] is not None:
        if start is not None:
            raise IllegalArgumentError(
                "Illegal argument: Parameters 'startDate' and 'timeRange' are mutually exclusive",
                [ErrorDetail("timeRange", "mutually exclusive with startDate")],
            )
        start = parse_time_range(values["timeRange"])
    if start is not None and end is not None and end < start:
        raise IllegalArgumentError(
            "Illegal argument: Start date must be before End Date",
            [ErrorDetail("endDate", "must be after startDate")],
        )
    return LogQuery(
        tenant_id=tenant,
        namespace=values["namespace"],
        flow_id=values["flowId"],
        execution_id=values["executionId"],
        trigger_id=values["triggerId"],
        min_level=level,
        start_date=start,
        end_date=end,
        q=values["q"],
        page=page,
        size=size,
        sort=parse_sort(params.getlist("sort"), SORTABLE),
    )


@router.get(
    "/logs/search", summary="Search log lines", responses=ok(models.PagedResults[models.LogEntry])
)
async def search_logs(
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    page: PageParam = 1,
    size: SizeParam = 10,
) -> Any:
    check_paging(page, size)
    found = await services.store.search_logs(log_query(request, tenant, page, size))
    return paged(found, [log_json(entry) for entry in found.results])


@router.get(
    "/logs/{executionId}/download",
    summary="An execution's logs as text",
    response_class=PlainTextResponse,
)
async def download_logs(
    executionId: ExecutionIdPath, request: Request, services: ServicesDep, tenant: TenantDep
) -> Response:
    filters = LineFilters.of(request)
    first = await filters.read(services.store, tenant, executionId, limit=DOWNLOAD_PAGE_LINES)

    async def pages() -> AsyncIterator[bytes]:
        entries = first
        while entries:
            yield "".join(log_line(entry) + "\n" for entry in entries).encode()
            if len(entries) < DOWNLOAD_PAGE_LINES:
                return
            entries = await filters.read(
                services.store,
                tenant,
                executionId,
                after_seq=entries[-1].seq,
                limit=DOWNLOAD_PAGE_LINES,
            )

    return StreamingResponse(
        pages(),
        media_type="text/plain",
        headers={"Content-Disposition": content_disposition(f"{executionId}.log")},
    )


@router.get(
    "/logs/{executionId}", summary="An execution's logs", responses=ok(list[models.LogEntry])
)
async def list_logs(
    executionId: ExecutionIdPath, request: Request, services: ServicesDep, tenant: TenantDep
) -> Any:
    entries = await LineFilters.of(request).read(services.store, tenant, executionId)
    return [log_json(entry) for entry in entries]


@router.delete("/logs/{executionId}", summary="Delete an execution's logs", response_class=Response)
async def delete_logs(
    executionId: ExecutionIdPath, request: Request, services: ServicesDep, tenant: TenantDep
) -> Response:
    filters = LineFilters.of(request)
    await services.store.delete_logs(
        tenant,
        executionId,
        min_level=filters.min_level,
        task_run_id=filters.task_run_id,
        task_id=filters.task_id,
        attempt=filters.attempt,
    )
    return Response(status_code=200)


@router.delete(
    "/logs/{namespace}/{flowId}", summary="Delete a flow's logs", response_class=Response
)
async def delete_flow_logs(
    namespace: NamespacePath,
    flowId: FlowIdPath,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
) -> Response:
    trigger_id = request.query_params.get("triggerId") or None
    await services.store.delete_flow_logs(tenant, namespace, flowId, trigger_id=trigger_id)
    return Response(status_code=200)
