"""The tools over both backends — in process (the built-in server) and over REST (``lanner mcp``)
— answer alike: the execution actions (restart, replay, resume, kill, labels), log search with
its cursor, validation problems as data, and Kestra's messages as errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from tests.api.conftest import PASSWORD, USER
from tests.api.executions_support import deploy
from tests.api.test_executions_engine import FAILING, PAUSING, SLEEPING

from lanner.api.app import create_app
from lanner.api.context import Services
from lanner.mcp.backend import Backend, BackendError
from lanner.mcp.flow_tools import TRIGGER_TYPE, flow_tool
from lanner.mcp.local import LocalBackend
from lanner.mcp.rest import RestBackend
from lanner.mcp.tools import TOOLS_BY_NAME, ToolInputError

pytestmark = pytest.mark.asyncio

DEADLINE_S = 20.0
MCP_TRIGGER = {"id": "mcp", "type": TRIGGER_TYPE}


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Any]:
    from lanner.engine import Engine  # type: ignore[attr-defined]

    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(params=["local", "rest"])
async def backend(request: pytest.FixtureRequest, services: Services) -> AsyncIterator[Backend]:
    if request.param == "local":
        yield LocalBackend(services, "main")
        return
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://lanner.test", auth=(USER, PASSWORD)
    ) as http:
        yield RestBackend(http)


async def tool(backend: Backend, name: str, **arguments: Any) -> dict[str, Any]:
    return await TOOLS_BY_NAME[name].run(backend, arguments)


async def until(
    backend: Backend, execution_id: str, is_reached: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        execution = await tool(backend, "get_execution", executionId=execution_id)
        if is_reached(execution):
            return execution
        assert loop.time() < deadline, f"execution stuck in {execution['state']}"
        await asyncio.sleep(0.02)


@pytest.mark.usefixtures("engine")
async def test_execution_actions(backend: Backend, api: httpx.AsyncClient, ns: str) -> None:
    for source in (FAILING, PAUSING, SLEEPING):
        await deploy(api, source.format(ns=ns))
    failed = await tool(backend, "run_flow", namespace=ns, id="failing", wait=True)
    assert failed["state"] == "FAILED"
    as_tool = flow_tool(await backend.get_flow(ns, "failing") | {"triggers": [MCP_TRIGGER]})
    assert as_tool is not None
    with pytest.raises(BackendError, match=r"Execution \w+ of .*\.failing ended FAILED"):
        await as_tool.run(backend, {})
    restarted = await tool(backend, "restart_execution", executionId=failed["id"])
    assert restarted["id"] == failed["id"]
    await until(backend, failed["id"], lambda e: e["state"] == "FAILED" and len(e["taskRuns"]) == 2)
    replayed = await tool(backend, "replay_execution", executionId=failed["id"])
    assert replayed["id"] != failed["id"]
    assert replayed["labels"].get("system.replay") == "true"
    labelled = await tool(
        backend, "set_execution_labels", executionId=failed["id"], labels={"team": "data"}
    )
    assert labelled["labels"]["team"] == "data"

    paused = await tool(backend, "run_flow", namespace=ns, id="pausing")
    await until(backend, paused["id"], lambda e: e["state"] == "PAUSED")
    await tool(backend, "resume_execution", executionId=paused["id"], inputs={"approved": True})
    done = await until(backend, paused["id"], lambda e: e["state"] == "SUCCESS")
    after = next(run for run in done["taskRuns"] if run["taskId"] == "after")
    assert after["outputs"] == {"value": "approved=true"}

    sleeping = await tool(backend, "run_flow", namespace=ns, id="sleeping")
    await until(backend, sleeping["id"], lambda e: e["state"] == "RUNNING")
    await tool(backend, "kill_execution", executionId=sleeping["id"])
    await until(backend, sleeping["id"], lambda e: e["state"] == "KILLED")

    states = await tool(backend, "search_executions", namespace=ns, states=["KILLED"])
    assert [e["id"] for e in states["results"]] == [sleeping["id"]]
    first = await tool(backend, "search_logs", namespace=ns, minLevel="ERROR", size=1)
    assert first["lines"]
    assert first["hasMore"] == (first["total"] > 1)
    if first["hasMore"]:
        second = await tool(
            backend,
            "search_logs",
            namespace=ns,
            minLevel="ERROR",
            size=1,
            cursor=first["nextCursor"],
        )
        assert second["lines"] != first["lines"]


async def test_problems_and_errors(backend: Backend, ns: str) -> None:
    bad = f"id: broken\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.nope.Missing\n"
    answer = await tool(backend, "save_flow", source=bad)
    assert answer["saved"] is False
    assert any("io.kestra.nope.Missing" in p["message"] for p in answer["problems"])
    with pytest.raises(BackendError, match=f"Flow '{ns}.nope' not found"):
        await tool(backend, "get_flow", namespace=ns, id="nope")
    with pytest.raises(BackendError, match=f"Flow '{ns}.nope' not found"):
        await tool(backend, "set_flow_enabled", namespace=ns, id="nope", enabled=True)
    with pytest.raises(ToolInputError, match="'namespace' is required"):
        await tool(backend, "kv_get", key="k")
    await tool(backend, "file_write", namespace=ns, path="/dir/a.txt", content="x")
    with pytest.raises(BackendError, match="is a directory"):
        await tool(backend, "file_read", namespace=ns, path="/dir")
    big = "y" * 30_000
    await tool(backend, "kv_set", namespace=ns, key="big", value=big)
    read = await tool(backend, "kv_get", namespace=ns, key="big")
    assert read["truncated"] is True
    assert "cut to" in read["note"]
