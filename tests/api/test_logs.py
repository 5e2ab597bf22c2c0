"""Logs API: list with filters, download as text; lines written through the real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lanner.domain.logs import LogEntry, LogLevel
from lanner.store import Store

pytestmark = pytest.mark.asyncio

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def write_lines(store: Store, execution_id: str) -> None:
    levels = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR, LogLevel.INFO]
    await store.add_logs(
        [
            LogEntry(
                tenant_id="main",
                namespace="io.lanner.logs",
                flow_id="f",
                execution_id=execution_id,
                task_id="a" if index < 3 else "b",
                task_run_id=f"run-{'a' if index < 3 else 'b'}",
                attempt_number=1 if index != 4 else 2,
                level=level,
                message=f"line {index}",
                timestamp=T0 + timedelta(seconds=index),
            )
            for index, level in enumerate(levels)
        ]
    )


async def test_list_in_order_with_kestra_fields(
    client: httpx.AsyncClient, api_store: Store
) -> None:
    await write_lines(api_store, "exec-1")
    response = await client.get("/api/v1/logs/exec-1")
    assert response.status_code == 200
    lines = response.json()
    assert [line["message"] for line in lines] == [f"line {i}" for i in range(5)]
    first = lines[0]
    assert first["executionId"] == "exec-1"
    assert first["taskId"] == "a"
    assert first["level"] == "DEBUG"
    assert first["timestamp"] == "2026-11-28T12:00:00Z"
    assert first["attemptNumber"] == 1
    assert first["tenantId"] == "main"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"minLevel": "WARN"}, ["line 2", "line 3"]),
        ({"minLevel": "info"}, ["line 1", "line 2", "line 3", "line 4"]),
        ({"taskId": "b"}, ["line 3", "line 4"]),
        ({"taskRunId": "run-a"}, ["line 0", "line 1", "line 2"]),
        ({"attempt": "2"}, ["line 4"]),
    ],
)
async def test_list_filters(
    client: httpx.AsyncClient, api_store: Store, params: dict[str, str], expected: list[str]
) -> None:
    await write_lines(api_store, "exec-2")
    response = await client.get("/api/v1/main/logs/exec-2", params=params)
    assert [line["message"] for line in response.json()] == expected


@pytest.mark.parametrize("params", [{"minLevel": "LOUD"}, {"attempt": "x"}])
async def test_bad_filters_are_422(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get("/api/v1/logs/exec-3", params=params)
    assert response.status_code == 422
    assert response.json()["message"].startswith("Illegal argument")


async def test_download_is_text(client: httpx.AsyncClient, api_store: Store) -> None:
    await write_lines(api_store, "exec-4")
    response = await client.get("/api/v1/logs/exec-4/download", params={"minLevel": "ERROR"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "exec-4.log" in response.headers["content-disposition"]
    assert response.text == "2026-11-28T12:00:03Z ERROR [b] line 3\n"


async def test_unknown_execution_has_no_lines(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/logs/nothing-here")
    assert response.status_code == 200
    assert response.json() == []


async def test_logs_need_credentials(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/api/v1/logs/exec-1")).status_code == 401


# --- search -----------------------------------------------------------------------------------


async def search(
    client: httpx.AsyncClient, path: str = "/api/v1/logs/search", **params: str
) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_search_pages_with_a_total(client: httpx.AsyncClient, api_store: Store) -> None:
    await write_lines(api_store, "exec-s1")

    first = await search(client, namespace="io.lanner.logs", size="2", sort="timestamp:asc")
    second = await search(client, namespace="io.lanner.logs", size="2", page="2", sort="timestamp")

    assert first["total"] == second["total"] == 5
    assert [line["message"] for line in first["results"]] == ["line 0", "line 1"]
    assert [line["message"] for line in second["results"]] == ["line 2", "line 3"]
    assert first["results"][0]["executionId"] == "exec-s1"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"minLevel": "WARN"}, ["line 3", "line 2"]),
        ({"filters[level][EQUALS]": "ERROR"}, ["line 3"]),
        ({"q": "LINE 4"}, ["line 4"]),
        ({"filters[q][EQUALS]": "line 1"}, ["line 1"]),
        ({"flowId": "f", "startDate": "2026-11-28T12:00:03Z"}, ["line 4", "line 3"]),
        (
            {"filters[namespace][PREFIX]": "io.lanner", "endDate": "2026-11-28T12:00:01Z"},
            ["line 0"],
        ),
        (
            {
                "filters[startDate][GREATER_THAN_OR_EQUAL_TO]": "2026-11-28T12:00:01Z",
                "filters[endDate][LESS_THAN_OR_EQUAL_TO]": "2026-11-28T12:00:02Z",
            },
            ["line 1"],
        ),
        ({"filters[flowId][EQUALS]": "nope"}, []),
    ],
)
async def test_search_filters(
    client: httpx.AsyncClient, api_store: Store, params: dict[str, str], expected: list[str]
) -> None:
    await write_lines(api_store, "exec-s2")

    body = await search(client, "/api/v1/main/logs/search", **params)

    assert [line["message"] for line in body["results"]] == expected


async def test_search_of_another_tenant_is_empty(
    client: httpx.AsyncClient, api_store: Store
) -> None:
    await write_lines(api_store, "exec-s3")

    assert (await search(client, "/api/v1/acme/logs/search"))["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"minLevel": "LOUD"},
        {"startDate": "yesterday"},
        {"startDate": "2026-11-28T12:00:00Z", "timeRange": "PT1H"},
        {"startDate": "2026-11-28T12:00:00Z", "endDate": "2026-11-27T12:00:00Z"},
        {"filters[labels][EQUALS][a]": "b"},
        {"sort": "message:asc"},
        {"page": "0"},
    ],
)
async def test_bad_search_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/api/v1/logs/search", params=params)
    assert response.status_code == 422, response.text


async def test_search_by_time_range(client: httpx.AsyncClient, api_store: Store) -> None:
    now = datetime.now(UTC)
    await store_at(api_store, [("two hours ago", now - timedelta(hours=2)), ("just now", now)])

    legacy = await search(client, flowId="timed", timeRange="PT1H")
    unified = await search(client, **{"filters[timeRange][EQUALS]": "PT1H", "flowId": "timed"})

    assert [line["message"] for line in legacy["results"]] == ["just now"]
    assert [line["message"] for line in unified["results"]] == ["just now"]


async def store_at(store: Store, lines: list[tuple[str, datetime]]) -> None:
    await store.add_logs(
        [
            LogEntry(
                tenant_id="main",
                namespace="io.lanner.logs",
                flow_id="timed",
                execution_id="exec-timed",
                level=LogLevel.INFO,
                message=message,
                timestamp=stamp,
            )
            for message, stamp in lines
        ]
    )


# --- delete -----------------------------------------------------------------------------------


async def test_delete_an_executions_lines_with_filters(
    client: httpx.AsyncClient, api_store: Store
) -> None:
    await write_lines(api_store, "exec-d1")

    response = await client.delete("/api/v1/logs/exec-d1", params={"taskId": "b"})
    assert response.status_code == 200
    assert response.content == b""
    remaining = (await client.get("/api/v1/logs/exec-d1")).json()
    assert [line["message"] for line in remaining] == ["line 0", "line 1", "line 2"]

    await client.delete("/api/v1/main/logs/exec-d1", params={"minLevel": "INFO"})
    assert [line["message"] for line in (await client.get("/api/v1/logs/exec-d1")).json()] == [
        "line 0"
    ]


async def test_delete_a_flows_lines(client: httpx.AsyncClient, api_store: Store) -> None:
    await write_lines(api_store, "exec-d2")
    await write_lines(api_store, "exec-d3")

    response = await client.delete("/api/v1/logs/io.lanner.logs/f")

    assert response.status_code == 200
    assert (await client.get("/api/v1/logs/exec-d2")).json() == []
    assert (await client.get("/api/v1/logs/exec-d3")).json() == []


async def test_download_streams_every_page(
    client: httpx.AsyncClient, api_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lanner.api.logs.DOWNLOAD_PAGE_LINES", 2)
    await write_lines(api_store, "exec-5")

    response = await client.get("/api/v1/main/logs/exec-5/download")

    assert [line.split(" ", 3)[3] for line in response.text.splitlines()] == [
        f"line {i}" for i in range(5)
    ]


async def test_follow_rejects_bad_parameters_before_streaming(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/logs/exec-6/follow", params={"minLevel": "LOUD"})
    assert response.status_code == 422
