"""The MCP server of both transports: the tool list (built-in tools and flow tools) and calls.

:func:`build_server` makes the SDK's low-level ``Server``; ``backend_of`` gives each request the
:class:`~lanner.mcp.backend.Backend` it runs on (the tenant of the HTTP path in process, the
REST client over stdio). The flow tools are cached per tenant while the store's flow version
(or, over REST, a short delay) says nothing changed; :class:`ToolWatch` tells subscribed
clients (``subscriptions/listen``, ``tools_list_changed``) when a tenant's tool list changed.
Must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
import orjson
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError

from lanner import __version__
from lanner.mcp.backend import Backend, BackendError
from lanner.mcp.flow_tools import fingerprint, flow_tools
from lanner.mcp.tools import TOOLS, TOOLS_BY_NAME, ToolInputError, ToolSpec

log = logging.getLogger("lanner.mcp")

SERVER_NAME = "lanner"
INSTRUCTIONS = (
    "Lanner runs Kestra flows. Tools read and change flows, executions, logs, KV values and "
    "namespace files; flows with an McpToolTrigger are tools of their own. Lists are paged and "
    "long answers are cut: `truncated` and `note` say so."
)
REST_CACHE_S = 2.0
"""Over REST (no flow version to compare), how long a tenant's flow tools are reused."""
WATCH_INTERVAL_S = 1.0
TOOLS_PAGE = 100

BackendOf = Callable[[ServerRequestContext[Any, Any]], tuple[str, Backend]]


def to_mcp(tool: ToolSpec) -> types.Tool:
    return types.Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        annotations=types.ToolAnnotations(
            title=tool.title,
            read_only_hint=tool.read_only,
            destructive_hint=tool.destructive,
        ),
        meta=dict(tool.meta) or None,
    )


def error_text(error: BackendError | ToolInputError) -> str:
    if isinstance(error, ToolInputError):
        return f"Invalid arguments: {error}"
    problems = "; ".join(f"{path}: {message}" for path, message in error.details)
    return f"{error.message} ({problems})" if problems else error.message


@dataclass(slots=True)
class _Cached:
    version: Any
    at: float
    tools: list[ToolSpec]
    print_: str


@dataclass(slots=True)
class ToolCatalog:
    """The tools of each tenant: the built-in ones, then the flow tools.

    ``on_change`` is called when a tenant's flow tools differ from the ones computed before
    (whoever looked first: a request or the :class:`ToolWatch`).
    """

    on_change: Callable[[str], None] | None = None
    _cache: dict[str, _Cached] = field(default_factory=dict)

    async def flow_tools(self, tenant: str, backend: Backend) -> list[ToolSpec]:
        version = await backend.flows_version()
        cached = self._cache.get(tenant)
        now = time.monotonic()
        if cached is not None and (
            (version is not None and cached.version == version)
            or (version is None and now - cached.at < REST_CACHE_S)
        ):
            return cached.tools
        tools = flow_tools(await backend.all_flows(), TOOLS_BY_NAME)
        print_ = fingerprint(tools)
        self._cache[tenant] = _Cached(version, now, tools, print_)
        if cached is not None and cached.print_ != print_ and self.on_change is not None:
            self.on_change(tenant)
        return tools

    async def tools(self, tenant: str, backend: Backend) -> list[ToolSpec]:
        return [*TOOLS, *await self.flow_tools(tenant, backend)]

    def tenants(self) -> list[str]:
        return list(self._cache)


@dataclass(slots=True)
class ToolWatch:
    """Looks at every served tenant's flow tools each ``interval_s`` and publishes
    ``ToolsListChanged`` when the catalog saw a tool list change (here or in a request)."""

    catalog: ToolCatalog
    bus: InMemorySubscriptionBus
    backend_for: Callable[[str], Backend]
    interval_s: float = WATCH_INTERVAL_S
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.catalog.on_change = lambda _tenant: self._changed.set()

    async def check(self) -> bool:
        """One look at every tenant served so far; True when a tool list changed."""
        for tenant in self.catalog.tenants():
            await self.catalog.flow_tools(tenant, self.backend_for(tenant))
        if not self._changed.is_set():
            return False
        self._changed.clear()
        await self.bus.publish(ToolsListChanged())
        return True

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the top of a loop: a failed look is retried at the next tick
                log.exception("checking the MCP tool list failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._changed.wait()  # a request saw the change: tell at once

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ToolWatch]:
        task = asyncio.create_task(self.run(), name="mcp-tool-watch")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def build_server(
    backend_of: BackendOf,
    catalog: ToolCatalog,
    bus: InMemorySubscriptionBus,
    *,
    on_list: Callable[[ServerRequestContext[Any, Any]], None] | None = None,
) -> Server[Any]:
    """The low-level MCP server listing and calling the tools of each request's tenant;
    ``on_list`` sees each ``tools/list`` request (``lanner mcp`` keeps its session)."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        if on_list is not None:
            on_list(ctx)
        tenant, backend = backend_of(ctx)
        try:
            tools = await catalog.tools(tenant, backend)
        except BackendError as error:
            raise MCPError(types.INTERNAL_ERROR, error_text(error)) from None
        start = 0
        if params is not None and params.cursor:
            try:
                start = max(0, int(params.cursor))
            except ValueError:
                raise MCPError(types.INVALID_PARAMS, "invalid cursor") from None
        page = tools[start : start + TOOLS_PAGE]
        more = start + TOOLS_PAGE < len(tools)
        return types.ListToolsResult(
            tools=[to_mcp(tool) for tool in page],
            next_cursor=str(start + TOOLS_PAGE) if more else None,
        )

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tenant, backend = backend_of(ctx)
        tool = TOOLS_BY_NAME.get(params.name)
        if tool is None:
            try:
                found = await catalog.flow_tools(tenant, backend)
            except BackendError as error:
                return _failure(error)
            tool = next((t for t in found if t.name == params.name), None)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        try:
            result = await tool.run(backend, params.arguments or {})
        except (BackendError, ToolInputError) as error:
            return _failure(error)
        text = orjson.dumps(result, default=str).decode()
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], structured_content=result
        )

    return Server(
        SERVER_NAME,
        version=__version__,
        title="Lanner",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=ListenHandler(bus),
    )


def _failure(error: BackendError | ToolInputError) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=error_text(error))], is_error=True
    )
