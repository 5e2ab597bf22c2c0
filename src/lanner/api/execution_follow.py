"""Following an execution (SSE) and reading its internal-storage files.

``GET /executions/{id}/follow`` (``text/event-stream``): 1.x's ``id: start`` frame with
``{"id": ...}``, an ``id: progress`` frame with the Execution JSON whenever it changed, and
``id: end`` with the final execution before closing; an execution already terminated gets one
``end`` frame. While nothing changes (a Pause, a long Sleep) a ``: keep-alive`` comment goes
out every ``FOLLOW_KEEPALIVE_S`` so proxies keep the connection; when the server stops, the
stream ends (within ``SAFETY_POLL_S``) instead of being cut. Each client holds one
level-triggered subscription (constant memory: a slow client gets the latest state, not a
backlog); it is released when the client goes away.

Files (``/file``, ``/file/metas``, ``/file/preview``) must lie under the execution's storage
prefix (422 "Invalid prefix path" otherwise, 404 when absent). A preview is Kestra's
``{extension, type, content, truncated}``: the first ``maxRows`` lines as TEXT (MARKDOWN for
``.md``), the first ``maxRows`` JSON records of an ``.ion`` file as a LIST (TEXT when a line is
not JSON), images and PDFs as base64.
"""

from __future__ import annotations

import base64
import codecs
import json
import time
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter
from starlette.responses import StreamingResponse

from lanner.api import models
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
from lanner.api.ids import ExecutionIdPath
from lanner.api.models import ok
from lanner.api.wire import (
    BinaryResponse,
    EventStreamResponse,
    JsonResponse,
    content_disposition,
    dumps,
)
from lanner.domain.executions import Execution
from lanner.engine.feeds import Subscription, execution_topic
from lanner.errors import ErrorDetail, IllegalArgumentError
from lanner.storage import execution_prefix, is_inside, path_of

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
FOLLOW_KEEPALIVE_S = 15.0
KEEPALIVE_FRAME = b": keep-alive\n\n"


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
    keepalive_at = time.monotonic() + FOLLOW_KEEPALIVE_S
    execution = known
    try:
        while not services.stopping.is_set():
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
                keepalive_at = time.monotonic() + FOLLOW_KEEPALIVE_S
            while True:
                now = time.monotonic()
                if idle_deadline <= now or services.stopping.is_set():
                    return
                if keepalive_at <= now:
                    yield KEEPALIVE_FRAME
                    keepalive_at = now + FOLLOW_KEEPALIVE_S
                wait_s = min(idle_deadline, keepalive_at) - now
                if await subscription.wait(min(wait_s, SAFETY_POLL_S)):
                    break
            execution = None
    finally:
        subscription.close()


@router.get(
    "/executions/{executionId}/follow",
    summary="Follow an execution (SSE)",
    response_class=EventStreamResponse,
)
async def follow(
    executionId: ExecutionIdPath, services: ServicesDep, tenant: TenantDep
) -> StreamingResponse:
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


@router.get(
    "/executions/{executionId}/file",
    summary="Download a file of an execution",
    response_class=BinaryResponse,
)
async def download_file(
    executionId: ExecutionIdPath, path: str, services: ServicesDep, tenant: TenantDep
) -> StreamingResponse:
    relative = await _execution_file(services, tenant, executionId, path)
    chunks = await storage_of(services).stream(tenant, relative)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Disposition": content_disposition(relative.name)},
    )


@router.get(
    "/executions/{executionId}/file/metas",
    summary="Size of a file of an execution",
    responses=ok(models.FileMetas),
)
async def file_metas(
    executionId: ExecutionIdPath, path: str, services: ServicesDep, tenant: TenantDep
) -> Any:
    relative = await _execution_file(services, tenant, executionId, path)
    return {"size": await storage_of(services).size(tenant, relative)}


PREVIEW_DEFAULT_ROWS = 100
PREVIEW_MAX_ROWS = 5000
"""Kestra's default and cap of ``maxRows``."""
PREVIEW_MAX_BINARY_BYTES = 10 * 1024 * 1024
"""Images and PDFs are sent whole (base64): bigger ones are not previewed."""
_BINARY_TYPES = {"jpg": "IMAGE", "jpeg": "IMAGE", "png": "IMAGE", "pdf": "PDF"}
_MARKDOWN = frozenset({"md", "markdown"})


@router.get(
    "/executions/{executionId}/file/preview",
    summary="Preview a file of an execution",
    responses=ok(models.FilePreview),
)
async def file_preview(
    executionId: ExecutionIdPath,
    path: str,
    services: ServicesDep,
    tenant: TenantDep,
    maxRows: int = PREVIEW_DEFAULT_ROWS,
    encoding: str = "UTF-8",
) -> Any:
    relative = await _execution_file(services, tenant, executionId, path)
    if maxRows < 1:
        raise IllegalArgumentError(
            f"Illegal argument: maxRows must be ≥ 1, got {maxRows}",
            [ErrorDetail("maxRows", "must be ≥ 1")],
        )
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise IllegalArgumentError(
            f"Illegal argument: unknown encoding '{encoding}'",
            [ErrorDetail("encoding", "unknown charset")],
        ) from None
    extension = _extension(relative)
    storage = storage_of(services)
    binary_type = _BINARY_TYPES.get(extension)
    if binary_type is not None:
        size = await storage.size(tenant, relative)
        if size > PREVIEW_MAX_BINARY_BYTES:
            raise IllegalArgumentError(
                f"Illegal argument: '{path}' is too big to be previewed ({size} bytes)",
                [ErrorDetail("path", f"larger than {PREVIEW_MAX_BINARY_BYTES} bytes")],
            )
        data = await storage.read_bytes(tenant, relative)
        content = base64.b64encode(data).decode("ascii")
        return {"extension": extension, "type": binary_type, "content": content, "truncated": False}
    rows = min(maxRows, PREVIEW_MAX_ROWS)
    lines, truncated = await _first_lines(
        await storage.stream(tenant, relative), codec.incrementaldecoder, rows
    )
    if extension == "ion":
        records = _json_records(lines)
        if records is not None:
            return {
                "extension": extension,
                "type": "LIST",
                "content": records,
                "truncated": truncated,
            }
    kind = "MARKDOWN" if extension in _MARKDOWN else "TEXT"
    return {
        "extension": extension,
        "type": kind,
        "content": "\n".join(lines),
        "truncated": truncated,
    }


def _extension(path: PurePosixPath) -> str:
    return path.suffix[1:].lower()


async def _first_lines(
    chunks: AsyncIterator[bytes], make_decoder: Any, rows: int
) -> tuple[list[str], bool]:
    """The first ``rows`` lines (without line ends) and whether more followed; reads no more
    of the file than needed."""
    decoder = make_decoder(errors="replace")
    pending = ""
    lines: list[str] = []
    async for chunk in chunks:
        pending += decoder.decode(chunk)
        *complete, pending = pending.splitlines(keepends=True) or [""]
        # A last line ended by "\n" is finished; one ended by "\r" may go on with "\n".
        if pending.endswith("\n"):
            complete.append(pending)
            pending = ""
        lines.extend(line.rstrip("\r\n") for line in complete)
        if len(lines) > rows:
            return lines[:rows], True
    pending += decoder.decode(b"", final=True)
    if pending:
        lines.append(pending.rstrip("\r\n"))
    return lines[:rows], len(lines) > rows


def _json_records(lines: list[str]) -> list[Any] | None:
    """One JSON value per non-blank line, or None when a line is not JSON."""
    try:
        return [json.loads(line) for line in lines if line.strip()]
    except ValueError:
        return None
