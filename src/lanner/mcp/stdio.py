"""``lanner mcp``: the MCP server over stdio for desktop agents, proxied to the REST API.

The same tools as the built-in server (``lanner.mcp.tools``, flow tools included), run on
:class:`~lanner.mcp.rest.RestBackend` with the server and credentials of ``kestra-ws``
(``lanner.cli.client.ClientSettings``). The flow tools are re-read every few seconds and
``tools_list_changed`` is sent to listening clients when they changed. Stdout carries the
protocol only. Talks HTTP only: must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import InMemorySubscriptionBus

from lanner.cli.client import ClientSettings, open_client
from lanner.mcp.backend import Backend
from lanner.mcp.rest import RestBackend
from lanner.mcp.server import ToolCatalog, ToolWatch, build_server

STDIO_WATCH_S = 5.0


async def serve_stdio(settings: ClientSettings) -> None:
    """Serve one MCP client on stdin/stdout until it closes them."""
    tenant = settings.tenant or "main"
    async with open_client(settings) as http:
        backend = RestBackend(http)

        def backend_of(_: ServerRequestContext[Any, Any]) -> tuple[str, Backend]:
            return tenant, backend

        catalog = ToolCatalog()
        bus = InMemorySubscriptionBus()
        server = build_server(backend_of, catalog, bus)
        watch = ToolWatch(catalog, bus, lambda _: backend, interval_s=STDIO_WATCH_S)
        options = server.create_initialization_options(NotificationOptions(tools_changed=True))
        async with stdio_server() as (read, write), watch.running():
            await server.run(read, write, options)
