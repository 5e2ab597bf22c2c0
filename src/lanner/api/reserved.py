"""Kestra's fixed paths that Lanner does not serve yet, answered 404 before any templated route.

Kestra matches its fixed paths first: ``POST /executions/replay/by-ids`` is a bulk replay, never
"run the flow ``by-ids`` of namespace ``replay``", and ``POST /executions/{id}/force-run`` never
runs a flow ``force-run``. Each path here is mounted ahead of the templated routes it could be
read as, so such a request is refused instead of starting (or deleting) something. A path that
gets a real implementation moves to its resource's router, which must stay ahead as well.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from lanner.api.ids import ExecutionIdPath
from lanner.api.wire import JsonResponse
from lanner.errors import NotFoundError

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)

#: (method, path) of Kestra's fixed routes Lanner has no handler for.
UNSUPPORTED: tuple[tuple[str, str], ...] = (
    *(
        ("POST", f"/executions/{verb}/{scope}")
        for verb in ("restart", "replay", "resume", "change-status", "unqueue", "force-run")
        for scope in ("by-ids", "by-query")
        if (verb, scope) not in (("replay", "by-ids"), ("resume", "by-ids"))  # execution_bulk.py
    ),
    ("POST", "/executions/labels/by-ids"),
    ("POST", "/executions/labels/by-query"),
    ("DELETE", "/executions/by-ids"),
    ("DELETE", "/executions/by-query"),
    ("DELETE", "/executions/kill/by-ids"),
    ("DELETE", "/executions/kill/by-query"),
    ("POST", "/executions/latest"),
    ("POST", "/executions/{executionId}/unqueue"),
    ("POST", "/executions/{executionId}/replay-with-inputs"),
    ("POST", "/executions/{executionId}/resume/validate"),
    ("POST", "/flows/graph"),
    ("POST", "/flows/validate/task"),
    ("POST", "/flows/validate/trigger"),
)


async def unsupported(request: Request) -> Response:
    raise NotFoundError(f"{request.method} {request.url.path} is not supported by Lanner yet")


async def unsupported_for_execution(request: Request, executionId: ExecutionIdPath) -> Response:
    return await unsupported(request)


for _method, _path in UNSUPPORTED:
    router.add_api_route(
        _path,
        unsupported_for_execution if "{executionId}" in _path else unsupported,
        methods=[_method],
        include_in_schema=False,
    )
