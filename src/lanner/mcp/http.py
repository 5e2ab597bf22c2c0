"""The built-in MCP server over streamable HTTP: ``/api/v1/mcp`` and ``/api/v1/{tenant}/mcp``.

Mounted by ``lanner.api.app`` behind the API's own middleware (auth: basic or bearer, 401
without; request limits) when ``Settings.mcp_enabled``. The endpoint is open for the app's
lifespan (:meth:`McpEndpoint.running`, entered by the app's lifespan handler); before or after
it, it answers 503. The SDK (~23 MB resident) is imported, and its session manager started with
the tool-list watch, at the first MCP request: a server nobody asks over MCP never loads it (the
watch looks only at tenants served so far, so it has nothing to do before). Stateless, JSON answers: any API
node serves any request (change notifications stream on ``subscriptions/listen``). Tools run
in process on :class:`~lanner.mcp.local.LocalBackend`, the tenant taken from the path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.convertors import Convertor, register_url_convertor

from lanner.api.context import RESERVED_TENANTS, TENANT_PATTERN, Services
from lanner.api.wire import dumps
from lanner.store import DEFAULT_TENANT

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from lanner.mcp.backend import Backend
    from lanner.mcp.local import LocalBackend

TENANT_KEY = "lanner.tenant"


class TenantConvertor(Convertor[str]):
    """A tenant path segment that is not a resource name: ``/api/v1/{tenant}/mcp`` can then be
    matched before the API's routes without taking ``/api/v1/flows/mcp`` (namespace ``mcp``)."""

    regex = "(?!(?:" + "|".join(sorted(RESERVED_TENANTS)) + ")/)" + TENANT_PATTERN.pattern[1:-1]

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("lanner_tenant", TenantConvertor())
MCP_PATHS = ("/api/v1/mcp", "/api/v1/{tenant:lanner_tenant}/mcp")

Scope = dict[str, Any]


class McpEndpoint:
    """The ASGI endpoint of both MCP paths."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._backends: dict[str, LocalBackend] = {}
        self._is_open = False
        self._manager: asyncio.Future[StreamableHTTPSessionManager] | None = None
        self._stop = asyncio.Event()
        self._serving: asyncio.Task[None] | None = None

    def backend_for(self, tenant: str) -> Backend:
        from lanner.mcp.local import LocalBackend

        backend = self._backends.get(tenant)
        if backend is None:
            backend = self._backends[tenant] = LocalBackend(self.services, tenant)
        return backend

    def _backend_of_request(self, ctx: ServerRequestContext[Any, Any]) -> tuple[str, Backend]:
        request = ctx.request
        scope = getattr(request, "scope", None) or {}
        tenant = str(scope.get(TENANT_KEY) or DEFAULT_TENANT)
        return tenant, self.backend_for(tenant)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve MCP requests while inside (the app's lifespan); the SDK's session manager,
        started by the first request, runs once per lifespan and stops on the way out."""
        self._stop = asyncio.Event()
        self._is_open = True
        try:
            yield
        finally:
            self._is_open = False
            self._stop.set()
            serving, self._serving, self._manager = self._serving, None, None
            if serving is not None:
                await asyncio.gather(serving, return_exceptions=True)

    async def _started(self) -> StreamableHTTPSessionManager:
        if self._manager is None:
            self._manager = asyncio.get_running_loop().create_future()
            self._serving = asyncio.create_task(self._serve(self._manager), name="lanner-mcp")
        return await asyncio.shield(self._manager)

    async def _serve(self, started: asyncio.Future[StreamableHTTPSessionManager]) -> None:
        try:
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
            from mcp.server.subscriptions import InMemorySubscriptionBus

            from lanner.mcp.server import ToolCatalog, ToolWatch, build_server

            catalog = ToolCatalog()
            bus = InMemorySubscriptionBus()
            server = build_server(self._backend_of_request, catalog, bus)
            watch = ToolWatch(catalog, bus, self.backend_for)
            manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)
            async with manager.run(), watch.running():
                started.set_result(manager)
                await self._stop.wait()
        except BaseException as error:
            if not started.done():
                if isinstance(error, asyncio.CancelledError):
                    started.cancel()
                else:
                    started.set_exception(error)
            raise

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        tenant = scope.get("path_params", {}).get("tenant", DEFAULT_TENANT)
        if tenant != DEFAULT_TENANT and (
            not TENANT_PATTERN.match(tenant) or tenant in RESERVED_TENANTS
        ):
            await _answer(send, scope, 404, f"Unknown tenant '{tenant}'")
            return
        if not self._is_open:
            await _answer(send, scope, 503, "The MCP server is not running")
            return
        manager = await self._started()
        scope[TENANT_KEY] = tenant
        await manager.handle_request(scope, receive, send)


async def _answer(send: Any, scope: Scope, status: int, message: str) -> None:
    body = dumps(
        {"message": message, "_links": {"self": {"href": scope["path"], "templated": False}}}
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
