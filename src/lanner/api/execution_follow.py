"""Following an execution (SSE) and reading its internal-storage files.

``GET /executions/{id}/follow`` (``text/event-stream``): 1.x's ``id: start`` frame with
``{"id": ...}``, an ``id: progress`` frame with the Execution JSON whenever it changed, and
``id: end`` with the final execution before closing; an execution already terminated gets one
``end`` frame. Each client holds one level-triggered subscription (constant memory: a slow
client gets the latest state, not a backlog); it is released when the client goes away.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from starlette.responses import StreamingResponse

from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.execution_access import (
    SAFETY_POLL_S,
    WAIT_TIMEOUT_S,
    executions_of,
    get_or_404,
    is_done,
    storage_of,
    visible_runs,
)
from lanner.api.execution_wire import execution_json
from lanner.api.wire import JsonResponse, dumps
from lanner.domain.executions import Execution
from lanner.engine.feeds import Subscription, execution_topic
from lanner.errors import ErrorDetail, IllegalArgumentError
from lanner.storage import execution_prefix, is_inside, path_of

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_frame(event_id: str, data: Any) -> bytes:
    return b"id: " + event_id.encode() + b"\ndata: " + dumps(data) + b"\n\n"


async def _frames(
    services: Services,
    tenant: str,
    execution_id: str,
    subscription: Subscription,
    known: Execution | None = None,
) -> AsyncIterator[bytes]:
    """Frames until the end; ``known``: the execution as just read (its first read is skipped)."""
    store = executions_of(services)
    last: dict[str, Any] | None = None
    idle_deadline = time.monotonic() + WAIT_TIMEOUT_S
    execution = known
    try:
        while True:
            if execution is None:
                execution = await store.get_execution(tenant, execution_id)
            if execution is None:  # deleted while followed
                return
            runs = visible_runs(await store.list_task_runs(execution_id))
            body = execution_json(execution, runs)
            if is_done(execution):
                yield sse_frame("end", body)
                return
            if last is None:
                yield sse_frame("start", {"id": execution_id})
            if body != last:
                yield sse_frame("progress", body)
                last = body
                idle_deadline = time.monotonic() + WAIT_TIMEOUT_S
            remaining = idle_deadline - time.monotonic()
            if remaining <= 0:
                return
            await subscription.wait(min(remaining, SAFETY_POLL_S))
            execution = None
    finally:
        subscription.close()


@router.get("/executions/{executionId}/follow", summary="Follow an execution (SSE)")
async def follow(executionId: str, services: ServicesDep, tenant: TenantDep) -> StreamingResponse:
    # Subscribe before the first read: a change between the read and the wait is never lost.
    subscription = services.feed.subscribe(execution_topic(executionId))
    try:
        execution = await get_or_404(services, tenant, executionId)
    except BaseException:
        subscription.close()
        raise
    return StreamingResponse(
        _frames(services, tenant, executionId, subscription, execution),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


# --- files ------------------------------------------------------------------------------------------


async def _execution_file(services: Services, tenant: str, execution_id: str, path: str) -> Any:
    execution = await get_or_404(services, tenant, execution_id)
    relative = path_of(path)
    prefix = execution_prefix(execution.namespace, execution.flow_id, execution.id)
    if not is_inside(relative, prefix):
        raise IllegalArgumentError(
            f"Illegal argument: Invalid prefix path, '{path}' is not a file of execution "
            f"'{execution_id}'",
            [ErrorDetail("path", "not inside the execution's storage")],
        )
    return relative


@router.get("/executions/{executionId}/file", summary="Download a file of an execution")
async def download_file(
    executionId: str, path: str, services: ServicesDep, tenant: TenantDep
) -> StreamingResponse:
    relative = await _execution_file(services, tenant, executionId, path)
    chunks = await storage_of(services).stream(tenant, relative)
    name = relative.name.replace('"', "")
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/executions/{executionId}/file/metas", summary="Size of a file of an execution")
async def file_metas(executionId: str, path: str, services: ServicesDep, tenant: TenantDep) -> Any:
    relative = await _execution_file(services, tenant, executionId, path)
    return {"size": await storage_of(services).size(tenant, relative)}
