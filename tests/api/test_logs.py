"""Logs API: list with filters, download as text; lines written through the real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
