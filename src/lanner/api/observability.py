"""``/metrics`` (Prometheus text format), HTTP latency by route, and the follow-stream limit.

Kestra serves its metrics on a management port; Lanner serves them on the API port at
``/metrics``, behind the API's auth unless ``LANNER_METRICS=open`` (a scraper without
credentials; the figures hold no flow data, only counts and timings), and not at all with
``LANNER_METRICS=off`` (then no middleware either). Not in the OpenAPI document: it is no part
of Kestra's API.

:class:`HttpMetricsMiddleware` times every request and labels it with the route template the
router matched (FastAPI leaves it in ``scope["route"]``), ``unrouted`` for answers given before
routing (401, 429). :class:`FollowStreamLimit` holds one slot per open follow stream (``GET
.../follow``) per client identity and answers 429 past ``max-follow-streams``. Imports the
telemetry module, the rate limiter's identity and the error body.
"""

from __future__ import annotations

import time

import fastapi.routing
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lanner.api.auth import METRICS_PATH
from lanner.api.context import ServicesDep
from lanner.api.problems import error_response
from lanner.api.ratelimit import client_identity
from lanner.telemetry import (
    EXECUTIONS,
    FOLLOW_STREAMS,
    QUEUE_DEPTH,
    observe_http,
    set_counts,
)

UNROUTED = "unrouted"

router = APIRouter()


@router.get(METRICS_PATH, include_in_schema=False)
async def prometheus_metrics(services: ServicesDep) -> Response:
    """This process's metrics, with the store's counts read now."""
    set_counts(EXECUTIONS, await services.store.count_executions_by_state())
    set_counts(QUEUE_DEPTH, await services.store.queue_depth())
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class HttpMetricsMiddleware:
    """Observes each request's duration by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            observe_http(
                scope["method"], route_template(scope), status, time.perf_counter() - started
            )


# Recent FastAPI (0.16x) keeps the matched route's full template (prefix included) in its own scope
# entry and leaves the router-relative route in ``scope["route"]``; older ones copy included
# routes with their prefix, so ``scope["route"].path`` is the full template there.
_effective_route = getattr(fastapi.routing, "_get_scope_effective_route_context", None)


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/api/v1/{tenant}/flows/{namespace}``)."""
    if _effective_route is not None:
        path = getattr(_effective_route(scope), "path", None)
        if path:
            return str(path)
    return str(getattr(scope.get("route"), "path", None) or UNROUTED)


class FollowStreamLimit:
    """At most ``max_streams`` follow streams open at once per client; one more is 429."""

    def __init__(self, app: ASGIApp, max_streams: int) -> None:
        self.app = app
        self.max_streams = max_streams
        self.open: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].endswith("/follow")
        ):
            await self.app(scope, receive, send)
            return
        identity = client_identity(scope)
        held = self.open.get(identity, 0)
        if held >= self.max_streams:
            message = (
                f"Too Many Requests: this client already has {held} follow streams open "
                f"(max-follow-streams is {self.max_streams})"
            )
            response = error_response(Request(scope), 429, message, headers={"Retry-After": "5"})
            await response(scope, receive, send)
            return
        self.open[identity] = held + 1
        FOLLOW_STREAMS.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            FOLLOW_STREAMS.dec()
            left = self.open.get(identity, 1) - 1
            if left > 0:
                self.open[identity] = left
            else:
                self.open.pop(identity, None)
