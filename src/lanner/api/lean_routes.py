"""A lean route for the hottest request: ``POST /api/v1[/{tenant}]/executions/{namespace}/{id}``.

For a 2-task execution, FastAPI's handling of the create request cost about as much server CPU
as the engine's whole step (profile of 32 clients with ``wait=true``: route matching over the
~530 routes 10 %, dependency solving and parameter validation 8 %, response encoding 3 %).
This route sits first in the application's routes and takes only the plain form of that
request: a valid tenant (or none), namespace and flow id, and no query parameter but ``wait``
(``true``/``false``) and ``labels``. Anything else — another parameter, an odd value, a path
that another POST route matches too (``/executions/{executionId}/restart``...) — falls through
to the FastAPI route, which also documents the operation. Both call the same
:func:`lanner.api.execution_create._create`, and errors go to the same exception handlers, so
the answers are the same (``tests/api/test_lean_routes.py`` compares them).
Written by hand: Starlette's routing is the part being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from lanner.api.context import RESERVED_TENANTS, TENANT_PATTERN, Services
from lanner.api.execution_create import _create, create_execution
from lanner.api.wire import JsonResponse
from lanner.flows.parser import FLOW_ID_MAX, FLOW_ID_RE, NAMESPACE_MAX, NAMESPACE_RE
from lanner.store import DEFAULT_TENANT

_PLAIN_QUERY = frozenset({"wait", "labels"})
_WAIT = {"true": True, "false": False}


class LeanCreateRoute(BaseRoute):
    """The plain create request, tenant-less or tenant-prefixed (``with_tenant``)."""

    def __init__(self, prefix: str, *, with_tenant: bool, others: Iterable[re.Pattern[str]]):
        self._prefix = prefix + "/"
        self._with_tenant = with_tenant
        # Router-relative patterns of every other POST route: a path one of them takes too
        # is left to the routers (whichever the application's order picks).
        self._others = tuple(others)
        tenant = "/{tenant}" if with_tenant else ""
        self.path = f"{prefix}{tenant}/executions/{{namespace}}/{{id}}"
        self.name = "create_execution_lean"
        self.include_in_schema = False

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "POST":
            return Match.NONE, {}
        path: str = scope["path"]
        if not path.startswith(self._prefix):
            return Match.NONE, {}
        parts = path[len(self._prefix) :].split("/")
        if self._with_tenant:
            if len(parts) != 4:
                return Match.NONE, {}
            tenant, *parts = parts
            if not TENANT_PATTERN.match(tenant) or tenant in RESERVED_TENANTS:
                return Match.NONE, {}
        elif len(parts) != 3:
            return Match.NONE, {}
        resource, namespace, flow_id = parts
        if (
            resource != "executions"
            or len(namespace) > NAMESPACE_MAX
            or len(flow_id) > FLOW_ID_MAX
            or not NAMESPACE_RE.fullmatch(namespace)
            or not FLOW_ID_RE.fullmatch(flow_id)
        ):
            return Match.NONE, {}
        relative = "/" + "/".join(parts)
        if any(other.match(relative) for other in self._others):
            return Match.NONE, {}
        if self._with_tenant and any(other.match(f"/{tenant}{relative}") for other in self._others):
            return Match.NONE, {}
        wait = _plain_wait(scope["query_string"])
        if wait is None:
            return Match.NONE, {}
        params = {"namespace": namespace, "id": flow_id}
        if self._with_tenant:
            params["tenant"] = tenant
        return Match.FULL, {"path_params": params, "route": self, "lanner.wait": wait}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        services: Services = scope["app"].state.services
        params = scope["path_params"]
        body = await _create(
            request, params["namespace"], params["id"], services,
            params.get("tenant", DEFAULT_TENANT),
            wait=scope["lanner.wait"], revision=None, schedule_date=None, kind=None,
        )  # fmt: skip
        await JsonResponse(body)(scope, receive, send)


def _plain_wait(query_string: bytes) -> bool | None:
    """``wait`` of a query with no other parameter than ``wait`` and ``labels``; None when the
    query is anything else."""
    wait = False
    if not query_string:
        return wait
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key not in _PLAIN_QUERY:
            return None
        if key == "wait":
            if value not in _WAIT:
                return None
            wait = _WAIT[value]
    return wait


def lean_routes(prefix: str, routers: Iterable[Any]) -> list[BaseRoute]:
    """The lean routes for the API mounted at ``prefix`` (tenant-less and tenant-prefixed) with
    ``routers``, whose other POST routes they step aside for."""
    others = [
        route.path_regex
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        and "POST" in (route.methods or ())
        and route.endpoint is not create_execution
    ]
    return [
        LeanCreateRoute(prefix, with_tenant=False, others=others),
        LeanCreateRoute(prefix, with_tenant=True, others=others),
    ]
