"""Following one execution to its end: its state (SSE ``/follow``) and, optionally, its logs.

``follow_execution`` merges the execution's follow stream with its logs' stream and, at the
end, the full log listing, so each line is reported once even when the live stream missed
some. ``watch`` renders it: a rich live view (task runs moving, log lines arriving above it) or
JSON lines with the event schema of ``kestra-ws`` (``state``, ``log``, ``end``). HTTP only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.live import Live

from lanner.cli.client import ClientError, call_json, follow_events
from lanner.cli.output import (
    TERMINAL_STATES,
    Format,
    emit_json,
    execution_view,
    log_line,
    state_of,
    stdout,
)

LOG_KEYS = ("executionId", "taskId", "taskRunId", "timestamp", "level", "message")
OnExecution = Callable[[dict[str, Any]], None]
OnLog = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class LogRelay:
    """Hands each log line on once, whether from the live stream or the final listing."""

    on_log: OnLog
    seen: Counter[str] = field(default_factory=Counter)

    def relay(self, entry: dict[str, Any]) -> None:
        self.seen[json.dumps(entry, sort_keys=True)] += 1
        self.on_log(entry)

    def relay_missing(self, entries: list[dict[str, Any]]) -> None:
        listed: Counter[str] = Counter()
        for entry in entries:
            key = json.dumps(entry, sort_keys=True)
            listed[key] += 1
            if listed[key] > self.seen[key]:
                self.relay(entry)

    async def follow(self, client: httpx.AsyncClient, path: str, params: dict[str, str]) -> None:
        with contextlib.suppress(ClientError):  # the final listing fills any gap
            async for _, data in follow_events(client, f"{path}/follow", params=params):
                if isinstance(data, dict):
                    self.relay(data)


async def follow_execution(
    client: httpx.AsyncClient,
    execution_id: str,
    on_execution: OnExecution,
    on_log: OnLog | None = None,
    min_level: str | None = None,
) -> dict[str, Any]:
    """Report the execution as it changes (and its log lines) until it ends; its final form."""
    path = f"/api/v1/executions/{execution_id}"
    execution: dict[str, Any] = await call_json(client, "GET", path)
    on_execution(execution)
    logs_path = f"/api/v1/logs/{execution_id}"
    params = {"minLevel": min_level} if min_level else {}
    relay = LogRelay(on_log) if on_log is not None else None
    log_task = (
        asyncio.create_task(relay.follow(client, logs_path, params)) if relay is not None else None
    )
    try:
        while state_of(execution) not in TERMINAL_STATES:
            # The server ends an idle stream after a while: read the state and follow again.
            async for event_id, data in follow_events(client, f"{path}/follow"):
                if isinstance(data, dict) and data.get("id") == execution_id and "state" in data:
                    on_execution(data)
                if event_id == "end":
                    break
            execution = await call_json(client, "GET", path)
    finally:
        if log_task is not None:
            log_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await log_task
    on_execution(execution)
    if relay is not None:
        relay.relay_missing(await call_json(client, "GET", logs_path, params=params))
    return execution


def state_event(execution: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "state",
        "executionId": execution.get("id"),
        "state": state_of(execution),
        "taskRuns": [
            {"taskId": run.get("taskId"), "state": (run.get("state") or {}).get("current")}
            for run in execution.get("taskRunList") or []
        ],
    }


def log_event(entry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "log", **{key: entry[key] for key in LOG_KEYS if key in entry}}


async def watch(
    client: httpx.AsyncClient,
    execution_id: str,
    fmt: Format,
    *,
    with_logs: bool,
    with_state: bool = True,
    stream_json: bool = True,
    min_level: str | None = None,
) -> dict[str, Any]:
    """Follow the execution, rendering it for ``fmt``; its final form.

    JSON: ``state``/``log`` lines as they come and an ``end`` line (``stream_json``), or
    nothing (the caller prints one document). Human: a live view of the task runs
    (``with_state``) with the log lines printed above it.
    """
    if fmt is Format.JSON:
        last: list[dict[str, Any]] = []

        def on_state(execution: dict[str, Any]) -> None:
            event = state_event(execution)
            if with_state and stream_json and (not last or last[-1] != event):
                emit_json(event)
                last[:] = [event]

        def on_json_log(entry: dict[str, Any]) -> None:
            emit_json(log_event(entry))

        final = await follow_execution(
            client, execution_id, on_state, on_json_log if with_logs else None, min_level
        )
        if stream_json:
            emit_json({"type": "end", "executionId": execution_id, "state": state_of(final)})
        return final

    if not with_state:
        return await follow_execution(
            client, execution_id, lambda _: None, lambda e: stdout.print(log_line(e)), min_level
        )
    with Live(console=stdout, refresh_per_second=8, transient=False) as live:
        final = await follow_execution(
            client,
            execution_id,
            lambda execution: live.update(execution_view(execution), refresh=True),
            (lambda entry: live.console.print(log_line(entry))) if with_logs else None,
            min_level,
        )
    if not stdout.is_terminal:
        stdout.line()  # a live view ends its last line only on a terminal
    return final
