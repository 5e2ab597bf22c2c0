"""The built-in MCP server over streamable HTTP, driven by the ``mcp`` SDK's client: tools,
runs with wait, logs, KV, namespace files, McpToolTrigger flows, errors, tenants, auth."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mcp import Client
from tests.api.conftest import PASSWORD, USER
from tests.api.executions_support import deploy
from tests.api.mcp_support import GREETING, TOOL_FLOW, mcp_client

from lanner.api.app import create_app
from lanner.api.context import Services
from lanner.mcp.tools import TOOLS

pytestmark = pytest.mark.asyncio

AUTH = (USER, PASSWORD)


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Any]:
    from lanner.engine import Engine  # type: ignore[attr-defined]

    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def app(services: Services) -> FastAPI:
    return create_app(services)


async def call(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_lists_the_built_in_tools_with_output_schemas(app: FastAPI) -> None:
    async with mcp_client(app, auth=AUTH) as mcp:
        listed = (await mcp.list_tools()).tools
        names = {tool.name for tool in listed}
        assert {tool.name for tool in TOOLS} <= names
        for tool in listed:
            assert tool.output_schema is not None
            assert tool.output_schema["type"] == "object"
            assert tool.input_schema["type"] == "object"


@pytest.mark.usefixtures("engine")
async def test_run_with_inputs_and_wait_then_read_logs(
    app: FastAPI, api: httpx.AsyncClient, ns: str
) -> None:
    async with mcp_client(app, auth=AUTH) as mcp:
        await deploy(api, GREETING.format(ns=ns))
        run = await call(
            mcp, "run_flow", namespace=ns, id="greeting", inputs={"who": "ada"}, wait=True
        )
        assert run["state"] == "SUCCESS"
        assert run["outputs"] == {"greeting": "HELLO ada"}
        assert [r["taskId"] for r in run["taskRuns"]] == ["hello", "shout"]
        # Log lines are written beside the run, not before its end: read until they are.
        logs = await call(mcp, "tail_logs", executionId=run["id"], minLevel="INFO")
        for _ in range(200):
            if logs["lines"]:
                break
            await asyncio.sleep(0.05)
            logs = await call(mcp, "tail_logs", executionId=run["id"], minLevel="INFO")
        assert any("hello ada x2" in line["message"] for line in logs["lines"])
        assert logs["hasMore"] is False
        again = await call(mcp, "tail_logs", executionId=run["id"], cursor=logs["nextCursor"])
        assert again["lines"] == []
        found = await call(mcp, "search_executions", namespace=ns)
        assert [e["id"] for e in found["results"]] == [run["id"]]
        outputs = await call(mcp, "get_execution_outputs", executionId=run["id"])
        assert outputs["flowOutputs"] == {"greeting": "HELLO ada"}
        assert {r["taskId"] for r in outputs["results"]} == {"hello", "shout"}


async def test_kv_set_then_get(app: FastAPI, ns: str) -> None:
    async with mcp_client(app, auth=AUTH) as mcp:
        await call(mcp, "kv_set", namespace=ns, key="answer", value={"n": 42})
        got = await call(mcp, "kv_get", namespace=ns, key="answer")
        assert (got["type"], got["value"]) == ("JSON", {"n": 42})
        keys = await call(mcp, "kv_list", namespace=ns)
        assert [k["key"] for k in keys["results"]] == ["answer"]
        assert (await call(mcp, "kv_delete", namespace=ns, key="answer"))["deleted"] is True
        missing = await mcp.call_tool("kv_get", {"namespace": ns, "key": "answer"})
        assert missing.is_error
        assert "No value found for key 'answer'" in missing.content[0].text  # type: ignore[union-attr]


async def test_namespace_files_round_trip(app: FastAPI, ns: str) -> None:
    async with mcp_client(app, auth=AUTH) as mcp:
        await call(mcp, "file_write", namespace=ns, path="/scripts/a.py", content="print(1)\n")
        listing = await call(mcp, "files_list", namespace=ns, path="/scripts")
        assert [f["fileName"] for f in listing["results"]] == ["a.py"]
        read = await call(mcp, "file_read", namespace=ns, path="/scripts/a.py")
        assert (read["content"], read["encoding"], read["truncated"]) == (
            "print(1)\n",
            "utf-8",
            False,
        )
        await call(mcp, "file_delete", namespace=ns, path="/scripts/a.py")
        gone = await mcp.call_tool("file_read", {"namespace": ns, "path": "/scripts/a.py"})
        assert gone.is_error


async def test_save_flow_answers_problems_as_data(app: FastAPI, ns: str) -> None:
    async with mcp_client(app, auth=AUTH) as mcp:
        bad = f"id: broken\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.nope.Missing\n"
        answer = await call(mcp, "save_flow", source=bad)
        assert answer["saved"] is False
        assert answer["problems"]
        assert all(p["path"] and p["message"] for p in answer["problems"])
        no_id = await call(mcp, "save_flow", source="namespace: x\ntasks: []\n")
        assert no_id["problems"] == [{"path": "id", "message": "required (a string)"}]
        saved = await call(mcp, "save_flow", source=GREETING.format(ns=ns))
        assert saved["saved"] is True
        assert saved["flow"]["revision"] == 1
        source = await call(mcp, "get_flow", namespace=ns, id="greeting")
        assert source["source"] == GREETING.format(ns=ns)
        toggled = await call(mcp, "set_flow_enabled", namespace=ns, id="greeting", enabled=False)
        assert toggled["changed"] is True
        assert (await call(mcp, "search_flows", namespace=ns))["results"][0]["disabled"] is True
        await call(mcp, "delete_flow", namespace=ns, id="greeting")
        gone = await mcp.call_tool("get_flow", {"namespace": ns, "id": "greeting"})
        assert gone.is_error
        assert f"Flow '{ns}.greeting' not found" in gone.content[0].text  # type: ignore[union-attr]


@pytest.mark.usefixtures("engine")
async def test_mcp_tool_trigger_flow_is_a_tool(
    app: FastAPI, api: httpx.AsyncClient, ns: str
) -> None:
    async with mcp_client(app, auth=AUTH) as mcp:
        tool_name = f"greet_{uuid.uuid4().hex[:8]}"
        await deploy(api, TOOL_FLOW.format(ns=ns, tool=tool_name[6:]))
        listed = {tool.name: tool for tool in (await mcp.list_tools()).tools}
        tool = listed[tool_name]
        assert tool.title == "Greeting tool"
        assert tool.description == "Returns a greeting for the given name."
        assert tool.input_schema["required"] == ["who"]
        assert tool.input_schema["properties"]["who"] == {
            "type": "string",
            "description": "whom to greet",
        }
        assert tool.input_schema["properties"]["times"] == {"type": "integer", "default": 2}
        assert tool.output_schema is not None
        assert tool.output_schema["properties"]["outputs"]["properties"] == {
            "greeting": {"type": "string"}
        }
        answer = await call(mcp, tool_name, who="grace")
        assert answer["state"] == "SUCCESS"
        assert answer["outputs"] == {"greeting": "HELLO grace"}
        execution = (await api.get(f"/api/v1/executions/{answer['executionId']}")).json()
        assert {"key": "system.from", "value": "mcp"} in execution["labels"]
        missing = await mcp.call_tool(tool_name, {})
        assert missing.is_error  # the required input is missing: Kestra's message
        assert "who" in missing.content[0].text  # type: ignore[union-attr]


async def test_unknown_tenant_and_tenant_paths(
    app: FastAPI, api: httpx.AsyncClient, ns: str
) -> None:
    await deploy(api, GREETING.format(ns=ns))
    # A handshake-era client (initialize first) is served too.
    async with mcp_client(app, "/api/v1/other/mcp", auth=AUTH, mode="legacy") as other:
        found = await call(other, "search_flows", namespace=ns)
        assert found["total"] == 0
    async with mcp_client(app, "/api/v1/main/mcp", auth=AUTH) as main:
        found = await call(main, "search_flows", namespace=ns)
        assert [f["id"] for f in found["results"]] == ["greeting"]


async def test_without_credentials_401(app: FastAPI) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        for path in ("/api/v1/mcp", "/api/v1/main/mcp"):
            response = await http.post(path, json=body, headers=headers)
            assert response.status_code == 401
            assert response.json()["message"] == "Unauthorized"
        wrong = await http.post("/api/v1/mcp", json=body, headers=headers, auth=(USER, "nope"))
        assert wrong.status_code == 401


async def test_without_the_lifespan_answers_503(api: httpx.AsyncClient) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = await api.post("/api/v1/mcp", json=body)
    assert response.status_code == 503
    assert response.json()["message"] == "The MCP server is not running"


async def test_disabled_by_setting(services: Services) -> None:
    from dataclasses import replace

    app = create_app(replace(services, settings=replace(services.settings, mcp_enabled=False)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", auth=AUTH
    ) as http:
        response = await http.post("/api/v1/mcp", json={})
        assert response.status_code == 404


async def test_resource_paths_named_mcp_stay_the_apis(api: httpx.AsyncClient) -> None:
    """``/api/v1/{tenant}/mcp`` never takes ``/api/v1/flows/mcp`` (namespace ``mcp``)."""
    response = await api.get("/api/v1/flows/mcp")
    assert response.status_code == 200
    assert response.json() == []
    execution = await api.get("/api/v1/executions/mcp")
    assert execution.status_code == 404
    assert "mcp" in execution.json()["message"]
