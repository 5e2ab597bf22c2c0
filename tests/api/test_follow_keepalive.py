"""Follow streams on an idle execution: keep-alive comments, and a clean end at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

import httpx
import pytest
from tests.api.executions_support import create, deploy

from lanner.api import execution_follow
from lanner.api.context import Services
from lanner.engine import Engine
from lanner.engine.feeds import execution_topic

pytestmark = pytest.mark.asyncio

DEADLINE_S = 20.0

PAUSING = """\
id: pausing
namespace: {ns}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: before the pause
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


@pytest.fixture
async def engine(services: Services) -> AsyncIterator[Engine]:
    running = Engine(services.store, services.feed)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def paused_execution(api: httpx.AsyncClient, ns: str) -> str:
    await deploy(api, PAUSING.format(ns=ns))
    execution_id: str = (await create(api, ns, "pausing"))["id"]
    async with asyncio.timeout(DEADLINE_S):
        while True:
            body = (await api.get(f"/api/v1/executions/{execution_id}")).json()
            if body["state"]["current"] == "PAUSED":
                return execution_id
            await asyncio.sleep(0.05)


@pytest.mark.usefixtures("engine")
async def test_idle_follow_sends_keepalives_and_ends_when_the_server_stops(
    api: httpx.AsyncClient, services: Services, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(execution_follow, "FOLLOW_KEEPALIVE_S", 0.2)
    execution_id = await paused_execution(api, ns)
    response = await execution_follow.follow(execution_id, services, "main")
    body = response.body_iterator
    assert isinstance(body, AsyncGenerator)
    frames: list[bytes] = []
    async with asyncio.timeout(DEADLINE_S):
        async for frame in body:
            frames.append(bytes(frame))
            if frames.count(execution_follow.KEEPALIVE_FRAME) == 2:
                services.stopping.set()  # what the server's shutdown does
    # the generator ended by itself once the server was stopping
    assert frames[0].startswith(b"id: start\n")
    assert frames[1].startswith(b"id: progress\n")
    assert b'"current":"PAUSED"' in frames[1]
    assert frames[2:] == [execution_follow.KEEPALIVE_FRAME] * 2
    assert services.feed.subscriber_count(execution_topic(execution_id)) == 0


@pytest.mark.usefixtures("engine")
async def test_log_follow_ends_when_the_server_stops(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    execution_id = await paused_execution(api, ns)

    async def stop_once_followed() -> None:
        while True:
            if services.feed.subscriber_count(f"logs:{execution_id}") > 0:
                services.stopping.set()
                return
            await asyncio.sleep(0.02)

    stopper = asyncio.create_task(stop_once_followed())
    async with asyncio.timeout(DEADLINE_S):
        response = await api.get(f"/api/v1/logs/{execution_id}/follow")
    await stopper
    assert response.status_code == 200
    assert "before the pause" in response.text  # what was stored went out before the end
