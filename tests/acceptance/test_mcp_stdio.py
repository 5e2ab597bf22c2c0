"""The MCP servers against a real ``lanner server local``: ``lanner mcp`` (stdio, proxied to the
REST API with ``kestra-ws``'s credentials) and the built-in one over streamable HTTP, both
driven by the ``mcp`` SDK's client; every effect checked through the REST API.

Covers: list tools, a run with inputs and wait, its logs, a KV value set and read, an
McpToolTrigger flow called as a tool (its outputs, ``system.from: mcp``), the tool-list change
notification (``subscriptions/listen``), and 401 without credentials.
"""

from __future__ import annotations

import os
import sys
import uuid
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.subscriptions import ToolsListChanged
from mcp_types import ToolListChangedNotification
from tests.acceptance.conftest import LannerServer
from tests.api.mcp_support import GREETING, TOOL_FLOW

pytestmark = pytest.mark.asyncio

NOTIFY_DEADLINE_S = 20.0
YAML = {"Content-Type": "application/x-yaml"}


def stdio_params(server: LannerServer) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA_")}
    env.update(KESTRA_URL=server.url, KESTRA_USER=server.username, KESTRA_PASSWORD=server.password)
    env["KESTRA_CONFIG"] = os.devnull  # no user config file
    return StdioServerParameters(
        command=sys.executable, args=["-m", "lanner.cli.main", "mcp"], env=env
    )


async def deploy(server: LannerServer, source: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, auth=server.auth) as rest:
        response = await rest.post("/api/v1/flows", content=source, headers=YAML)
    assert response.status_code == 200, response.text


async def rest_get(server: LannerServer, path: str) -> Any:
    async with httpx.AsyncClient(base_url=server.url, auth=server.auth) as rest:
        response = await rest.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def call(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def exercise(client: Client, server: LannerServer, ns: str) -> None:
    """The scenario of both transports."""
    tool_name = f"greet_{uuid.uuid4().hex[:8]}"
    await deploy(server, GREETING.format(ns=ns))
    await deploy(server, TOOL_FLOW.format(ns=ns, tool=tool_name[6:]))
    names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"run_flow", "tail_logs", "kv_set", "kv_get", tool_name} <= names

    run = await call(
        client, "run_flow", namespace=ns, id="greeting", inputs={"who": "ada"}, wait=True
    )
    assert (run["state"], run["outputs"]) == ("SUCCESS", {"greeting": "HELLO ada"})
    logs = await call(client, "tail_logs", executionId=run["id"])
    for _ in range(200):  # log lines are written beside the run, not before its end
        if logs["lines"]:
            break
        await anyio.sleep(0.05)
        logs = await call(client, "tail_logs", executionId=run["id"])
    assert any("hello ada x2" in line["message"] for line in logs["lines"])
    rest = await rest_get(server, f"/api/v1/executions/{run['id']}")
    assert rest["state"]["current"] == "SUCCESS"

    await call(client, "kv_set", namespace=ns, key="seen", value="yes")
    assert (await call(client, "kv_get", namespace=ns, key="seen"))["value"] == "yes"
    kv = await rest_get(server, f"/api/v1/namespaces/{ns}/kv/seen")
    assert kv["value"] == "yes"

    answer = await call(client, tool_name, who="grace")
    assert (answer["state"], answer["outputs"]) == ("SUCCESS", {"greeting": "HELLO grace"})
    made = await rest_get(server, f"/api/v1/executions/{answer['executionId']}")
    assert {"key": "system.from", "value": "mcp"} in made["labels"]

    missing = await client.call_tool("get_flow", {"namespace": ns, "id": "nope"})
    assert missing.is_error
    assert f"Flow '{ns}.nope' not found" in missing.content[0].text  # type: ignore[union-attr]


async def test_stdio_proxy(lanner_server: LannerServer, unique_namespace: str) -> None:
    async with Client(stdio_params(lanner_server)) as client:
        await exercise(client, lanner_server, unique_namespace)


async def test_stdio_handshake_era_client_is_told_of_tool_changes(
    lanner_server: LannerServer, unique_namespace: str
) -> None:
    changed = anyio.Event()
    seen: list[Any] = []

    async def on_message(message: Any) -> None:
        seen.append(message)
        if isinstance(message, ToolListChangedNotification):
            changed.set()

    async with Client(
        stdio_params(lanner_server), mode="legacy", message_handler=on_message
    ) as client:
        await client.list_tools()
        tool = uuid.uuid4().hex[:8]
        await deploy(lanner_server, TOOL_FLOW.format(ns=unique_namespace, tool=tool))
        with anyio.fail_after(NOTIFY_DEADLINE_S):
            await changed.wait()
        names = {t.name for t in (await client.list_tools()).tools}
        assert f"greet_{tool}" in names


async def test_streamable_http(lanner_server: LannerServer, unique_namespace: str) -> None:
    http = httpx2.AsyncClient(auth=lanner_server.auth)
    async with (
        http,
        Client(
            streamable_http_client(f"{lanner_server.url}/api/v1/mcp", http_client=http)
        ) as client,
    ):
        await exercise(client, lanner_server, unique_namespace)


async def test_tool_list_change_is_notified(
    lanner_server: LannerServer, unique_namespace: str
) -> None:
    http = httpx2.AsyncClient(auth=lanner_server.auth, timeout=httpx2.Timeout(30.0))
    async with (
        http,
        Client(
            streamable_http_client(f"{lanner_server.url}/api/v1/mcp", http_client=http)
        ) as client,
    ):
        await client.list_tools()  # the tenant is now watched
        async with client.listen(tools_list_changed=True) as subscription:
            tool = uuid.uuid4().hex[:8]
            await deploy(lanner_server, TOOL_FLOW.format(ns=unique_namespace, tool=tool))
            with anyio.fail_after(NOTIFY_DEADLINE_S):
                event = await subscription.__anext__()
        assert isinstance(event, ToolsListChanged)
        names = {t.name for t in (await client.list_tools()).tools}
        assert f"greet_{tool}" in names


async def test_without_credentials_401(lanner_server: LannerServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=lanner_server.url) as http:
        responses = [
            await http.post(path, json=body, headers=headers)
            for path in ("/api/v1/mcp", "/api/v1/main/mcp")
        ]
    for response in responses:
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
