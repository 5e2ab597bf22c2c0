"""Helpers of the MCP tests: the flows they deploy, and an MCP client on the app in process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx2
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

GREETING = """\
id: greeting
namespace: {ns}
description: Greets someone.
inputs:
  - id: who
    type: STRING
    description: whom to greet
  - id: times
    type: INT
    defaults: 2
    required: false
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ inputs.who }}}} x{{{{ inputs.times }}}}"
  - id: shout
    type: io.kestra.plugin.core.debug.Return
    format: "HELLO {{{{ inputs.who }}}}"
outputs:
  - id: greeting
    type: STRING
    value: "{{{{ outputs.shout.value }}}}"
"""

TOOL_FLOW = GREETING.replace("id: greeting\n", "id: greeter\n", 1) + (
    "triggers:\n"
    "  - id: mcp\n"
    "    type: io.kestra.plugin.core.trigger.McpToolTrigger\n"
    "    toolName: greet_{tool}\n"
    "    title: Greeting tool\n"
    "    toolDescription: Returns a greeting for the given name.\n"
)


@contextlib.asynccontextmanager
async def mcp_client(
    app: FastAPI, path: str = "/api/v1/mcp", auth: tuple[str, str] | None = None, **kwargs: Any
) -> AsyncIterator[Client]:
    """An MCP ``Client`` over streamable HTTP to ``app`` (in process, its lifespan running)."""
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://lanner.test", auth=auth
    )
    async with http, app.router.lifespan_context(app):
        transport = streamable_http_client(f"http://lanner.test{path}", http_client=http)
        async with Client(transport, **kwargs) as client:
            yield client
