"""Logs written by the real engine, read through the API: task lines with their ids, the
task's ``logLevel``, masked secrets and the engine's own lines, in write order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.api.executions_support import create, deploy

from lanner.api.context import Services
from lanner.engine.runtime_functions import SecretMasks
from lanner.engine.service import Engine

pytestmark = pytest.mark.asyncio

DEADLINE_S = 20.0
SECRET = "hunter22-pass"

FLOW = """\
id: chatty
namespace: {ns}
tasks:
  - id: many
    type: io.kestra.plugin.core.log.Log
    level: DEBUG
    message:
      - "first of {{{{ flow.id }}}}"
      - second
      - "password is {secret}"
  - id: quiet
    type: io.kestra.plugin.core.log.Log
    logLevel: WARN
    message: dropped, INFO is below the task's logLevel
  - id: loud
    type: io.kestra.plugin.core.log.Log
    logLevel: WARN
    level: ERROR
    message: kept
"""


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    running = Engine(services.store, services.feed, masker=SecretMasks([SECRET]))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def finished(api: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        body: dict[str, Any] = (await api.get(f"/api/v1/executions/{execution_id}")).json()
        if body["state"]["current"] in ("SUCCESS", "FAILED", "WARNING", "KILLED"):
            return body
        assert loop.time() < deadline, body["state"]["current"]
        await asyncio.sleep(0.02)


async def lines_until(
    api: httpx.AsyncClient, execution_id: str, last_message: str, **params: str
) -> list[dict[str, Any]]:
    """The execution's lines once one starts with ``last_message`` (engine lines come last)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        response = await api.get(f"/api/v1/logs/{execution_id}", params=params)
        lines: list[dict[str, Any]] = response.json()
        if any(line["message"].startswith(last_message) for line in lines):
            return lines
        assert loop.time() < deadline, [line["message"] for line in lines]
        await asyncio.sleep(0.02)


@pytest.mark.usefixtures("engine")
async def test_task_and_engine_lines(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FLOW.format(ns=ns, secret=SECRET))
    execution_id = (await create(api, ns, "chatty"))["id"]
    execution = await finished(api, execution_id)
    assert execution["state"]["current"] == "SUCCESS"

    lines = await lines_until(api, execution_id, "Flow completed")
    messages = [(line.get("taskId"), line["level"], line["message"]) for line in lines]

    assert messages[0] == (None, "INFO", "Flow started")
    assert messages[-1][2].startswith("Flow completed with state SUCCESS in 00:00:")
    assert ("many", "INFO", "Type Log started") in messages
    assert ("many", "DEBUG", "first of chatty") in messages
    assert ("many", "DEBUG", "password is ******") in messages
    assert ("loud", "ERROR", "kept") in messages
    assert all(line["message"] != SECRET and SECRET not in line["message"] for line in lines)
    assert not [m for m in messages if m[0] == "quiet"]  # every INFO line is below WARN
    many = [m[2] for m in messages if m[0] == "many"]
    assert many[1:4] == ["first of chatty", "second", "password is ******"]
    assert many[-1].startswith("Type Log with state SUCCESS completed in ")
    first = next(line for line in lines if line.get("taskId") == "many")
    run_id = next(r["id"] for r in execution["taskRunList"] if r["taskId"] == "many")
    assert (first["taskRunId"], first["attemptNumber"], first["flowId"]) == (run_id, 1, "chatty")
    assert first["namespace"] == ns
    assert first["executionId"] == execution_id


@pytest.mark.usefixtures("engine")
async def test_list_filters_on_engine_lines(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, FLOW.format(ns=ns, secret=SECRET))
    execution_id = (await create(api, ns, "chatty"))["id"]
    await finished(api, execution_id)
    await lines_until(api, execution_id, "Flow completed")

    debug = await api.get(f"/api/v1/logs/{execution_id}", params={"minLevel": "DEBUG"})
    errors = await api.get(f"/api/v1/logs/{execution_id}", params={"minLevel": "ERROR"})
    loud = await api.get(f"/api/v1/logs/{execution_id}", params={"taskId": "loud", "attempt": 1})
    search = await api.get("/api/v1/logs/search", params={"namespace": ns, "q": "******"})

    assert len(debug.json()) > len(errors.json()) == 1
    assert [line["message"] for line in errors.json()] == ["kept"]
    assert [line["message"] for line in loud.json()] == ["kept"]  # started/ended are INFO
    assert [line["message"] for line in search.json()["results"]] == ["password is ******"]


LONG = """\
id: long
namespace: {ns}
tasks:
  - id: lines
    type: io.kestra.plugin.core.log.Log
    message: {messages}
"""


@pytest.mark.usefixtures("engine")
async def test_a_task_writing_many_lines_keeps_them_all_in_order(
    api: httpx.AsyncClient, ns: str
) -> None:
    count = 3_000
    messages = "[" + ", ".join(f'"n{i}"' for i in range(count)) + "]"
    await deploy(api, LONG.format(ns=ns, messages=messages))
    execution_id = (await create(api, ns, "long"))["id"]
    assert (await finished(api, execution_id))["state"]["current"] == "SUCCESS"

    lines = (await api.get(f"/api/v1/logs/{execution_id}", params={"taskId": "lines"})).json()

    body = [line["message"] for line in lines if line["message"].startswith("n")]
    assert body == [f"n{i}" for i in range(count)]  # all committed before the task's result
