"""The FastAPI application: every router mounted tenant-less and tenant-prefixed, auth, errors,
and the edge middlewares (body and header limits, metrics, rate limits, follow-stream slots)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI
from starlette.routing import Route

from lanner import __version__
from lanner.api import (
    dependencies,
    execution_actions,
    execution_bulk,
    execution_create,
    execution_edits,
    execution_follow,
    executions,
    flow_bulk,
    flows,
    kv,
    log_follow,
    logs,
    metrics,
    misc,
    namespace_files,
    plugins,
    reserved,
    triggers,
    webhooks,
)
from lanner.api.auth import Authenticator, AuthMiddleware, document_auth
from lanner.api.context import Services
from lanner.api.lean_routes import lean_routes
from lanner.api.limits import RequestLimitMiddleware
from lanner.api.observability import FollowStreamLimit, HttpMetricsMiddleware
from lanner.api.observability import router as metrics_router
from lanner.api.problems import document_errors, install_error_handlers
from lanner.api.ratelimit import RateLimiter, RateLimitMiddleware
from lanner.api.wire import JsonResponse
from lanner.ui import pages as ui_pages

API_PREFIX = "/api/v1"

# Order matters: fixed paths (/flows/validate) before templated ones (/flows/{namespace}).
# Executions: /executions/webhook/... and /executions/search and the /{id}/<action> routes before /{namespace}/{id}.
# Kestra's fixed paths Lanner lacks are refused first (api/reserved.py).
RESOURCE_ROUTERS: tuple[APIRouter, ...] = (
    reserved.router,
    execution_bulk.router,
    dependencies.router,
    misc.router,
    plugins.router,
    logs.router,
    log_follow.router,
    metrics.router,
    flow_bulk.router,
    flows.router,
    webhooks.router,
    executions.router,
    execution_actions.router,
    execution_edits.router,
    execution_follow.router,
    execution_create.router,
    executions.outputs_router,
    kv.router,
    namespace_files.router,
    triggers.router,
)


def create_app(services: Services) -> FastAPI:
    """The ASGI application for ``services``; connects nothing by itself.

    Its lifespan runs the built-in MCP server (``lanner.mcp.http``) when it is enabled: serve it
    with the lifespan on (``bootstrap.serve_http`` does; in tests, enter
    ``app.router.lifespan_context(app)``), else ``/api/v1/mcp`` answers 503.
    """
    mcp = None
    if services.settings.mcp_enabled:
        from lanner.mcp.http import McpEndpoint  # the MCP SDK loads at the first MCP request

        mcp = McpEndpoint(services)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if mcp is None:
            yield
            return
        async with mcp.running():
            yield

    app = FastAPI(
        lifespan=lifespan,
        title="Lanner",
        version=__version__,
        description="Kestra-compatible workflow orchestrator API",
        docs_url="/api",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        default_response_class=JsonResponse,
    )
    app.state.services = services
    app.include_router(misc.health_router)
    app.include_router(log_follow.health_router)
    app.include_router(ui_pages.router)
    settings = services.settings
    if settings.metrics != "off":
        app.include_router(metrics_router)
    # Tenant-less routes first: /api/v1/flows/... must never be read as tenant "flows".
    for router in RESOURCE_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in RESOURCE_ROUTERS:
        app.include_router(router, prefix=API_PREFIX + "/{tenant}", include_in_schema=False)
    if mcp is not None:
        from lanner.mcp.http import MCP_PATHS

        # First (the tenant segment never names a resource: /api/v1/flows/mcp stays the API's).
        for index, path in enumerate(MCP_PATHS):
            route = Route(path, mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)
            app.router.routes.insert(index, route)
    # First of all: the plain create request skips FastAPI's routing (``api/lean_routes.py``).
    for index, lean in enumerate(lean_routes(API_PREFIX, RESOURCE_ROUTERS)):
        app.router.routes.insert(index, lean)
    install_error_handlers(app)
    document_errors(app, is_rate_limited=settings.rate_limit is not None)
    document_auth(app)
    # Innermost first: follow slots (behind auth) < auth < rate limit < metrics < body limits.
    app.add_middleware(FollowStreamLimit, max_streams=settings.max_follow_streams)
    app.add_middleware(AuthMiddleware, authenticator=Authenticator(settings, services.store))
    # Off: no middleware at all, so a request pays nothing for the feature.
    app.state.rate_limiter = None
    if settings.rate_limit is not None:
        app.state.rate_limiter = RateLimiter(settings.rate_limit)
        app.add_middleware(RateLimitMiddleware, limiter=app.state.rate_limiter)
    if settings.metrics != "off":
        app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(RequestLimitMiddleware, settings=settings)  # outermost
    return app
