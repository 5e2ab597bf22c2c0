"""Logs API (Kestra ``/api/v1[/{tenant}]/logs``): list and download an execution's lines, and
follow them live (SSE: stored lines first, then new ones, in order and without gaps).

Following reads by the store's per-execution sequence (``after_seq``), so lines committed in
any order are never skipped; a wake-up from the change feed (``logs:<id>``) triggers the next
read, with a slow poll as the safety net.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from lanner.api.context import ServicesDep, TenantDep
from lanner.api.wire import JsonResponse, dumps
from lanner.domain.logs import LogEntry, LogLevel
from lanner.engine.feeds import logs_topic
from lanner.errors import ErrorDetail, IllegalArgumentError

router = APIRouter(tags=["Logs"], default_response_class=JsonResponse)

FOLLOW_SAFETY_POLL_S = 1.0
FOLLOW_KEEPALIVE_S = 15.0


def parse_level(value: str | None) -> LogLevel | None:
    if value is None or value == "":
        return None
    try:
        return LogLevel(value.upper())
    except ValueError:
        raise IllegalArgumentError(
            f"Illegal argument: minLevel must be one of {', '.join(LogLevel)}",
            [ErrorDetail("minLevel", "unknown level")],
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


async def _list(
    services: ServicesDep,
    tenant: str,
    execution_id: str,
    request: Request,
    after_seq: int | None = None,
) -> list[LogEntry]:
    params = request.query_params
    attempt = params.get("attempt")
    try:
        attempt_number = int(attempt) if attempt else None
    except ValueError:
        raise IllegalArgumentError(
            "Illegal argument: attempt must be an integer", [ErrorDetail("attempt", "not int")]
        ) from None
    return await services.store.list_logs(
        tenant,
        execution_id,
        min_level=parse_level(params.get("minLevel")),
        task_run_id=params.get("taskRunId") or None,
        task_id=params.get("taskId") or None,
        attempt=attempt_number,
        after_seq=after_seq,
    )


@router.get("/logs/{executionId}/download", summary="An execution's logs as text")
async def download_logs(
    executionId: str, request: Request, services: ServicesDep, tenant: TenantDep
) -> Response:
    entries = await _list(services, tenant, executionId, request)
    text = "".join(log_line(entry) + "\n" for entry in entries)
    return Response(
        text,
        media_type="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{executionId}.log"'},
    )


@router.get("/logs/{executionId}/follow", summary="Follow an execution's logs (SSE)")
async def follow_logs(
    executionId: str, request: Request, services: ServicesDep, tenant: TenantDep
) -> StreamingResponse:
    await _list(services, tenant, executionId, request, after_seq=None)  # validates params

    async def frames() -> AsyncIterator[bytes]:
        position: int | None = None
        with services.feed.subscribe(logs_topic(executionId)) as changes:
            idle = 0.0
            while not await request.is_disconnected():
                entries = await _list(services, tenant, executionId, request, after_seq=position)
                for entry in entries:
                    position = entry.seq if entry.seq is not None else position
                    yield b"id: progress\ndata: " + dumps(log_json(entry)) + b"\n\n"
                if entries:
                    idle = 0.0
                woke = await changes.wait(FOLLOW_SAFETY_POLL_S)
                idle = 0.0 if woke else idle + FOLLOW_SAFETY_POLL_S
                if idle >= FOLLOW_KEEPALIVE_S:
                    idle = 0.0
                    yield b": keep-alive\n\n"
                await asyncio.sleep(0)

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/logs/{executionId}", summary="An execution's logs")
async def list_logs(
    executionId: str, request: Request, services: ServicesDep, tenant: TenantDep
) -> Any:
    return [log_json(entry) for entry in await _list(services, tenant, executionId, request)]
