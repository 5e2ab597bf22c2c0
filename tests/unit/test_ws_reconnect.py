"""``kestra-ws``'s reconnection pieces without a server: the log relay prints each line once
across resumed streams (numbered by Lanner, unnumbered replays from Kestra) and the final
listing; the retry policy backs off, resets, and gives up with a clear error."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from lanner.cli import ws
from lanner.cli.client import ClientError


class Collecting(ws.Printer):
    def __init__(self) -> None:
        super().__init__(ws.OutputFormat.JSON)
        self.events: list[dict[str, Any]] = []
        self.notices: list[dict[str, Any]] = []

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def notice(self, event: dict[str, Any]) -> None:
        self.notices.append(event)


def line(n: int, message: str | None = None) -> dict[str, Any]:
    return {
        "executionId": "e1",
        "taskId": "t",
        "timestamp": f"2026-01-01T00:00:0{n}Z",
        "level": "INFO",
        "message": message or f"m{n}",
    }


def messages(printer: Collecting) -> list[str]:
    return [e["message"] for e in printer.events if e["type"] == "log"]


def test_numbered_lines_resume_after_the_last_seq() -> None:
    printer = Collecting()
    relay = ws.LogRelay(printer)
    for n in (1, 2):
        relay.take(str(n), line(n), Counter())
    assert relay.last_seq == 2
    # The server resumed after 2 but a line may come twice around a reconnection: skipped.
    for n in (2, 3):
        relay.take(str(n), line(n), Counter())
    relay.relay_missing([line(1), line(2), line(3), line(4)])
    assert messages(printer) == ["m1", "m2", "m3", "m4"]


def test_unnumbered_replays_skip_what_was_printed_even_repeated_lines() -> None:
    printer = Collecting()
    relay = ws.LogRelay(printer)
    first: Counter[str] = Counter()
    for entry in (line(1, "same"), line(1, "same"), line(2)):
        relay.take("progress", entry, first)
    # Reconnected: Kestra replays every stored line, then new ones.
    second: Counter[str] = Counter()
    for entry in (line(1, "same"), line(1, "same"), line(2), line(1, "same"), line(3)):
        relay.take("progress", entry, second)
    assert messages(printer) == ["same", "same", "m2", "same", "m3"]


async def test_retries_back_off_reset_and_give_up(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def no_sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(ws.asyncio, "sleep", no_sleep)
    printer = Collecting()
    retry = ws.Reconnect(printer, retries=3)
    down = ClientError("cannot reach http://x: refused")
    await retry.pause(down, "logs")
    await retry.pause(down, "logs")
    retry.connected()
    for _ in range(3):
        await retry.pause(ClientError("HTTP 503", status=503), "execution")
    with pytest.raises(ClientError, match="gave up after 3 reconnection attempts: HTTP 503"):
        await retry.pause(ClientError("HTTP 503", status=503), "execution")
    assert slept == [0.2, 0.4, 0.2, 0.4, 0.8]
    assert [n["attempt"] for n in printer.notices] == [1, 2, 1, 2, 3]
    assert json.dumps(printer.notices[0])  # plain JSON


async def test_client_errors_are_not_retried() -> None:
    retry = ws.Reconnect(Collecting(), retries=5)
    with pytest.raises(ClientError, match="HTTP 404"):
        await retry.pause(ClientError("HTTP 404 GET /x", status=404), "execution")
    assert retry.failures == 0
