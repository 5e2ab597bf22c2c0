"""``lanner mcp``: the MCP server over stdio for desktop agents, proxied to the REST API.

The same tools as the built-in server (``lanner.mcp.tools``, flow tools included), run on
:class:`~lanner.mcp.rest.RestBackend` with the server and credentials of ``kestra-ws``
(``lanner.cli.client.ClientSettings``). The flow tools are re-read every few seconds; when they changed,
listening clients are told (``subscriptions/listen``) and so is a handshake-era client that
listed the tools (``notifications/tools/list_changed`` on its stdio session). Stdout carries the
protocol only. Talks HTTP only: must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.session import ServerSession
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import InMemorySubscriptionBus, ServerEvent, ToolsListChanged
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from lanner.cli.client import ClientSettings, open_client
from lanner.mcp.backend import Backend
from lanner.mcp.rest import RestBackend
from lanner.mcp.server import ToolCatalog, ToolWatch, build_server

STDIO_WATCH_S = 2.0


async def serve_stdio(settings: ClientSettings) -> None:
    """Serve one MCP client on stdin/stdout until it closes them."""
    tenant = settings.tenant or "main"
    async with open_client(settings) as http:
        backend = RestBackend(http)

        def backend_of(_: ServerRequestContext[Any, Any]) -> tuple[str, Backend]:
            return tenant, backend

        catalog = ToolCatalog()
        bus = InMemorySubscriptionBus()
        legacy = LegacyListeners()
        bus.subscribe(legacy.deliver)
        server = build_server(backend_of, catalog, bus, on_list=legacy.remember)
        watch = ToolWatch(catalog, bus, lambda _: backend, interval_s=STDIO_WATCH_S)
        options = server.create_initialization_options(NotificationOptions(tools_changed=True))
        async with stdio_server() as (read, write), watch.running():
            await server.run(read, write, options)


class LegacyListeners:
    """The handshake-era session that listed the tools: it is told of changes directly (the
    2026 era listens with ``subscriptions/listen`` instead)."""

    def __init__(self) -> None:
        self.session: ServerSession | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def remember(self, ctx: ServerRequestContext[Any, Any]) -> None:
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self.session = ctx.session

    def deliver(self, event: ServerEvent) -> None:
        if self.session is None or not isinstance(event, ToolsListChanged):
            return
        task = asyncio.create_task(self.session.send_tool_list_changed())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
