"""Following logs (SSE) against a real server process, on SQLite and PostgreSQL.

The in-process ASGI transport buffers a response until it ends, so live streaming is only
observable over a real socket: lines must arrive while the execution still runs, in order and
without gaps or repeats; the stream has no end event; a client that goes away is cleaned up, and
100 concurrent followers leave no task, subscription or memory behind (``/health/streams``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.acceptance.conftest import LannerServer

pytestmark = pytest.mark.asyncio

DEADLINE_S = 30.0
FOLLOWERS = 100

LIVE_FLOW = """\
id: {flow_id}
namespace: {namespace}
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: [a1, a2, a3]
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: {nap}
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: [b1, b2]
"""


@pytest.fixture
async def client(lanner_server: LannerServer) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=FOLLOWERS + 20, max_keepalive_connections=20)
    async with httpx.AsyncClient(
        base_url=lanner_server.url, auth=lanner_server.auth, timeout=DEADLINE_S, limits=limits
    ) as http:
        yield http


async def start_live(client: httpx.AsyncClient, namespace: str, nap: str) -> str:
    flow_id = f"live_{uuid.uuid4().hex[:8]}"
    source = LIVE_FLOW.format(flow_id=flow_id, namespace=namespace, nap=nap)
    deployed = await client.post(
        "/api/v1/flows", content=source, headers={"Content-Type": "application/x-yaml"}
    )
    assert deployed.status_code == 200, deployed.text
    created = await client.post(f"/api/v1/executions/{namespace}/{flow_id}")
    assert created.status_code == 200, created.text
    execution_id: str = created.json()["id"]
    return execution_id


async def frames(response: httpx.Response) -> AsyncIterator[tuple[str | None, dict[str, Any]]]:
    """``(id, data)`` of each SSE frame."""
    event_id: str | None = None
    async for text in response.aiter_lines():
        if text.startswith("id:"):
            event_id = text[3:].strip()
        elif text.startswith("data:"):
            yield event_id, json.loads(text[5:])
            event_id = None


async def streams(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/health/streams")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled(
    client: httpx.AsyncClient, baseline: dict[str, Any], *, task_slack: int = 10
) -> dict[str, Any]:
    """``/health/streams`` once the followers and their subscriptions are gone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        now = await streams(client)
        if (
            now["logFollowers"] == baseline["logFollowers"]
            and now["feedSubscriptions"] <= baseline["feedSubscriptions"]
            and now["tasks"] <= baseline["tasks"] + task_slack
        ):
            return now
        assert loop.time() < deadline, f"followers not cleaned up: {now} (baseline {baseline})"
        await asyncio.sleep(0.1)


async def test_live_lines_arrive_in_order_while_the_execution_runs(
    client: httpx.AsyncClient, unique_namespace: str
) -> None:
    baseline = await streams(client)
    execution_id = await start_live(client, unique_namespace, nap="PT3S")
    seen: list[tuple[str | None, dict[str, Any]]] = []
    state_at_a3 = None

    async def follow() -> None:
        nonlocal state_at_a3
        async with client.stream("GET", f"/api/v1/logs/{execution_id}/follow") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for event_id, line in frames(response):
                seen.append((event_id, line))
                if line["message"] == "a3":
                    execution = await client.get(f"/api/v1/executions/{execution_id}")
                    state_at_a3 = execution.json()["state"]["current"]
                if line["message"].startswith("Flow completed"):
                    return

    await asyncio.wait_for(follow(), DEADLINE_S)

    assert state_at_a3 == "RUNNING", [line["message"] for _, line in seen]
    assert {event_id for event_id, _ in seen} == {"progress"}  # no end event, as in Kestra
    messages = [line["message"] for _, line in seen]
    assert [m for m in messages if m in ("a1", "a2", "a3", "b1", "b2")] == [
        "a1",
        "a2",
        "a3",
        "b1",
        "b2",
    ]
    assert messages[0] == "Flow started"
    stored = (await client.get(f"/api/v1/logs/{execution_id}")).json()
    assert messages == [line["message"] for line in stored]  # no gap, no repeat
    assert all(line["executionId"] == execution_id for _, line in seen)
    await settled(client, baseline)


async def test_a_finished_executions_lines_are_replayed_then_the_stream_stays_open(
    client: httpx.AsyncClient, unique_namespace: str
) -> None:
    execution_id = await start_live(client, unique_namespace, nap="PT0S")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        stored = (await client.get(f"/api/v1/logs/{execution_id}")).json()
        if stored and stored[-1]["message"].startswith("Flow completed"):
            break
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    replayed: list[str] = []

    async def follow() -> None:
        params = {"minLevel": "INFO"}
        async with client.stream(
            "GET", f"/api/v1/main/logs/{execution_id}/follow", params=params
        ) as response:
            async for _, line in frames(response):
                replayed.append(line["message"])

    reader = asyncio.create_task(follow())
    while len(replayed) < len(stored):
        assert loop.time() < deadline, replayed
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert not reader.done()  # stays open: the client decides when to stop
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    assert replayed == [line["message"] for line in stored]


async def test_last_event_id_resumes_after_that_line_with_numbered_frames(
    client: httpx.AsyncClient, unique_namespace: str
) -> None:
    execution_id = await start_live(client, unique_namespace, nap="PT0S")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while True:
        stored = (await client.get(f"/api/v1/logs/{execution_id}")).json()
        if stored and stored[-1]["message"].startswith("Flow completed"):
            break
        assert loop.time() < deadline
        await asyncio.sleep(0.05)

    async def follow(last_event_id: str, count: int) -> list[tuple[str | None, str]]:
        got: list[tuple[str | None, str]] = []
        headers = {"Last-Event-ID": last_event_id}
        path = f"/api/v1/logs/{execution_id}/follow"
        async with client.stream("GET", path, headers=headers) as response:
            async for event_id, line in frames(response):
                got.append((event_id, line["message"]))
                if len(got) == count:
                    return got
        return got

    messages = [line["message"] for line in stored]
    everything = await asyncio.wait_for(follow("0", len(stored)), DEADLINE_S)
    assert everything == [(str(n), m) for n, m in enumerate(messages, start=1)]
    resumed = await asyncio.wait_for(follow("3", len(stored) - 3), DEADLINE_S)
    assert resumed == everything[3:]  # after line 3: nothing lost, nothing repeated
    # A non-numeric id (what Kestra's frames carry) is Kestra's stream: all lines, unnumbered.
    kestra = await asyncio.wait_for(follow("progress", len(stored)), DEADLINE_S)
    assert kestra == [("progress", m) for m in messages]


async def test_many_followers_leave_nothing_behind(
    client: httpx.AsyncClient, unique_namespace: str
) -> None:
    execution_id = await start_live(client, unique_namespace, nap="PT1S")
    baseline = await streams(client)
    rss_after_round: list[int] = []

    for _ in range(3):
        first_lines: list[str] = []

        async def follow(results: list[str] = first_lines) -> None:
            path = f"/api/v1/logs/{execution_id}/follow"
            async with client.stream("GET", path) as response:
                async for _, line in frames(response):
                    results.append(line["message"])
                    await asyncio.sleep(3600)  # hold the connection open until cancelled

        readers = [asyncio.create_task(follow()) for _ in range(FOLLOWERS)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_S
        while len(first_lines) < FOLLOWERS:
            assert loop.time() < deadline, f"{len(first_lines)} followers got a line"
            await asyncio.sleep(0.05)
        during = await streams(client)
        assert during["logFollowers"] == baseline["logFollowers"] + FOLLOWERS
        assert set(first_lines) == {"Flow started"}

        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        after = await settled(client, baseline)
        if after.get("rssBytes") is not None:
            rss_after_round.append(after["rssBytes"])

    if len(rss_after_round) == 3:
        growth = rss_after_round[2] - rss_after_round[0]
        assert growth < 20 * 1024 * 1024, f"memory grew by {growth} bytes over two rounds"
