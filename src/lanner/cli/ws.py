"""``kestra-ws``: the agent-friendly client (``poll``, ``watch``; JSON lines or text).

``poll`` follows one execution to its end (the execution's SSE follow stream, merged with its
logs' stream) and exits 0 for SUCCESS/WARNING, 1 for FAILED/KILLED/CANCELLED (and any other
end), 2 for usage and HTTP errors. ``watch`` polls a namespace's executions and reports new
ones and their state changes. The server and credentials come from the environment (see
``lanner.cli.client``). This module talks HTTP only: it must not import ``api``, ``engine`` or
``store``.

A dropped connection (the server restarting, a proxy timing out) is retried with exponential
backoff, ``--retries`` times in a row at most (a connection that delivers resets the count),
each try announced on stderr as a ``reconnect`` event; after the last, an ``error`` event and
exit 2. Log lines resume where they stopped: the log stream is asked with ``Last-Event-ID``
(Lanner numbers the lines and sends only the later ones); against a server that does not
number them (Kestra) the replayed lines already printed are skipped, and the final listing
fills any gap, so each line is printed exactly once. The execution's state is re-read after a
reconnection (its stream is level-triggered). The events are documented by
``docs/kestra-ws-events.schema.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer

from lanner.cli.client import (
    ClientError,
    ClientSettings,
    follow_events,
    get_json,
    open_client,
)
from lanner.domain.states import TERMINATED

EXIT_SUCCESS = 0
EXIT_FAILED = 1
EXIT_ERROR = 2
SUCCESSFUL_STATES = frozenset({"SUCCESS", "WARNING"})
TERMINAL_STATES = frozenset(state.value for state in TERMINATED)
WATCH_PAGE_SIZE = 100
DEFAULT_RETRIES = 10
BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 5.0

app = typer.Typer(
    name="kestra-ws",
    help="Follow Kestra/Lanner executions from scripts and AI agents (poll, watch; JSON output). "
    "Reads KESTRA_URL, KESTRA_USER/KESTRA_PASSWORD or KESTRA_TOKEN.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


class OutputFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


@dataclass(slots=True)
class Printer:
    """Writes events as JSON lines or human-readable lines, flushed at once."""

    fmt: OutputFormat

    def emit(self, event: dict[str, Any]) -> None:
        line = json.dumps(event) if self.fmt is OutputFormat.JSON else _as_text(event)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def notice(self, event: dict[str, Any]) -> None:
        """A note about the connection (``reconnect``), on stderr so stdout stays the events."""
        if self.fmt is OutputFormat.JSON:
            line = json.dumps(event)
        else:
            line = (
                f"kestra-ws: {event['reason']}; reconnecting ({event['attempt']}/"
                f"{event['retries']}) in {event['delayS']:g}s"
            )
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def error(self, err: ClientError) -> None:
        if self.fmt is OutputFormat.JSON:
            body = {"type": "error", "status": err.status, "message": err.message}
            line = json.dumps(body)
        else:
            line = f"kestra-ws: error: {err.message}"
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _as_text(event: dict[str, Any]) -> str:
    kind = event.get("type")
    if kind == "state":
        runs = ", ".join(f"{run['taskId']}={run['state']}" for run in event.get("taskRuns", []))
        where = f"{event.get('namespace')}.{event.get('flowId')} " if "flowId" in event else ""
        return f"[{event['state']}] {where}{event['executionId']}" + (f"  {runs}" if runs else "")
    if kind == "log":
        return (
            f"{event.get('timestamp', '')} {event.get('level', '')} "
            f"{event.get('taskId') or '-'}: {event.get('message', '')}"
        )
    if kind == "end":
        return f"[end] {event['executionId']} {event['state']}"
    if kind == "watch":
        return f"watching namespace {event['namespace']}"
    return json.dumps(event)


def _state_of(execution: dict[str, Any]) -> str:
    return str((execution.get("state") or {}).get("current", ""))


def _task_runs(execution: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"taskId": str(run.get("taskId")), "state": str((run.get("state") or {}).get("current"))}
        for run in execution.get("taskRunList") or []
    ]


def _state_event(execution: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "state",
        "executionId": execution.get("id"),
        "state": _state_of(execution),
        "taskRuns": _task_runs(execution),
    }


def _outputs(execution: dict[str, Any]) -> dict[str, Any]:
    return {
        str(run.get("taskId")): run["outputs"]
        for run in execution.get("taskRunList") or []
        if run.get("outputs") is not None
    }


def _log_event(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("executionId", "taskId", "taskRunId", "timestamp", "level", "message")
    return {"type": "log", **{key: entry[key] for key in keys if key in entry}}


def exit_code_of(state: str) -> int:
    """0 for a successful end, 1 for any other end."""
    return EXIT_SUCCESS if state in SUCCESSFUL_STATES else EXIT_FAILED


# --------------------------------------------------------------------------- reconnect


def is_transient(err: ClientError) -> bool:
    """A failure worth retrying: no answer at all, or the server's own trouble (5xx)."""
    return err.status is None or err.status >= 500


@dataclass(slots=True)
class Reconnect:
    """Bounded retries with exponential backoff; a connection that delivers resets the count."""

    printer: Printer
    retries: int
    failures: int = 0

    def connected(self) -> None:
        self.failures = 0

    async def pause(self, err: ClientError, stream: str) -> None:
        """Wait before the next try, or raise once ``retries`` tries in a row have failed."""
        if not is_transient(err):
            raise err
        self.failures += 1
        if self.failures > self.retries:
            raise ClientError(
                f"gave up after {self.retries} reconnection attempts: {err.message}",
                status=err.status,
            )
        delay = min(BACKOFF_FIRST_S * 2 ** (self.failures - 1), BACKOFF_MAX_S)
        self.printer.notice(
            {
                "type": "reconnect",
                "stream": stream,
                "attempt": self.failures,
                "retries": self.retries,
                "delayS": delay,
                "reason": err.message,
            }
        )
        await asyncio.sleep(delay)

    async def get(self, client: httpx.AsyncClient, path: str, stream: str) -> Any:
        """``get_json`` retried on transient failures."""
        while True:
            try:
                body = await get_json(client, path)
            except ClientError as err:
                await self.pause(err, stream)
                continue
            self.connected()
            return body


# --------------------------------------------------------------------------- poll


@dataclass(slots=True)
class LogRelay:
    """Emits each log line once, whether it came from the live stream, a stream resumed after
    a reconnection or the final listing."""

    printer: Printer
    seen: Counter[str] = field(default_factory=Counter)
    last_seq: int = 0
    """The last line number the server gave (``id: <seq>``), sent back as ``Last-Event-ID``."""

    def relay(self, entry: dict[str, Any]) -> None:
        self.seen[json.dumps(entry, sort_keys=True)] += 1
        self.printer.emit(_log_event(entry))

    def take(self, event_id: str | None, entry: dict[str, Any], replayed: Counter[str]) -> None:
        """One line of a stream; ``replayed``: this connection's lines so far, by content."""
        if event_id is not None and event_id.isdigit():
            seq = int(event_id)
            if seq > self.last_seq:
                self.last_seq = seq
                self.relay(entry)
            return
        # Unnumbered (Kestra): each connection replays the stored lines first.
        key = json.dumps(entry, sort_keys=True)
        replayed[key] += 1
        if replayed[key] > self.seen[key]:
            self.relay(entry)

    def relay_missing(self, entries: list[dict[str, Any]]) -> None:
        listed: Counter[str] = Counter()
        for entry in entries:
            key = json.dumps(entry, sort_keys=True)
            listed[key] += 1
            if listed[key] > self.seen[key]:
                self.relay(entry)

    async def follow(self, client: httpx.AsyncClient, execution_id: str, retry: Reconnect) -> None:
        path = f"/api/v1/logs/{execution_id}/follow"
        while True:
            replayed: Counter[str] = Counter()
            headers = {"Last-Event-ID": str(self.last_seq)}
            try:
                async for event_id, data in follow_events(client, path, headers):
                    retry.connected()
                    if isinstance(data, dict):
                        self.take(event_id, data, replayed)
            except ClientError as err:
                try:
                    await retry.pause(err, "logs")
                except ClientError:
                    return  # the final listing fills any gap
            else:  # the server closed the stream: open it again
                await asyncio.sleep(BACKOFF_FIRST_S)


async def follow_state(
    client: httpx.AsyncClient,
    execution_id: str,
    execution: dict[str, Any],
    printer: Printer,
    retry: Reconnect,
) -> dict[str, Any]:
    """Report the execution's state changes until it ends; its final JSON."""
    path = f"/api/v1/executions/{execution_id}"
    last = _state_event(execution)
    while _state_of(execution) not in TERMINAL_STATES:
        try:
            async with contextlib.aclosing(follow_events(client, f"{path}/follow")) as events:
                async for event_id, data in events:
                    retry.connected()
                    if (
                        isinstance(data, dict)
                        and data.get("id") == execution_id
                        and "state" in data
                    ):
                        execution = data
                        current = _state_event(execution)
                        if current != last:
                            printer.emit(current)
                            last = current
                    if event_id == "end":
                        break
            # Whatever ended the stream, the state now (the stream may have closed early).
            execution = await get_json(client, path)
            current = _state_event(execution)
            if current != last:
                printer.emit(current)
                last = current
        except ClientError as err:
            await retry.pause(err, "execution")
    return execution


async def poll_execution(
    settings: ClientSettings,
    execution_id: str,
    printer: Printer,
    with_logs: bool,
    retries: int = DEFAULT_RETRIES,
) -> int:
    async with open_client(settings) as client:
        path = f"/api/v1/executions/{execution_id}"
        retry = Reconnect(printer, retries)
        execution: dict[str, Any] = await retry.get(client, path, "execution")
        printer.emit(_state_event(execution))

        logs = LogRelay(printer)
        log_task = (
            asyncio.create_task(logs.follow(client, execution_id, Reconnect(printer, retries)))
            if with_logs
            else None
        )
        try:
            execution = await follow_state(client, execution_id, execution, printer, retry)
        finally:
            if log_task is not None:
                log_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await log_task
        if with_logs:
            logs.relay_missing(await retry.get(client, f"/api/v1/logs/{execution_id}", "logs"))
        state = _state_of(execution)
        printer.emit(
            {
                "type": "end",
                "executionId": execution_id,
                "state": state,
                "outputs": _outputs(execution),
            }
        )
        return exit_code_of(state)


FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="json or text.")]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries", min=0, help="Reconnection attempts in a row before giving up (backoff)."
    ),
]


@app.command()
def poll(
    execution_id: Annotated[str, typer.Option("--execution-id", help="The execution to follow.")],
    fmt: FormatOpt = OutputFormat.TEXT,
    logs: Annotated[
        bool, typer.Option("--logs/--no-logs", help="Merge the execution's log lines.")
    ] = True,
    retries: RetriesOpt = DEFAULT_RETRIES,
) -> None:
    """Follow one execution until it ends; exit 0 on SUCCESS/WARNING, 1 on failure, 2 on error."""
    printer = Printer(fmt)
    try:
        code = asyncio.run(
            poll_execution(ClientSettings.from_environ(), execution_id, printer, logs, retries)
        )
    except ClientError as err:
        printer.error(err)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(code)


# --------------------------------------------------------------------------- watch


@dataclass(slots=True)
class NamespaceWatch:
    """What ``watch`` knows: each reported execution's last state and how many have ended."""

    printer: Printer
    states: dict[str, str] = field(default_factory=dict)
    ended: int = 0

    def baseline(self, executions: list[dict[str, Any]]) -> None:
        """Executions already over when the watch starts are not news; running ones are."""
        for execution in executions:
            if _state_of(execution) in TERMINAL_STATES:
                self.states[str(execution.get("id"))] = _state_of(execution)

    def observe(self, executions: list[dict[str, Any]]) -> None:
        # Oldest first, so new executions are reported in the order they started.
        for execution in reversed(executions):
            execution_id, state = str(execution.get("id")), _state_of(execution)
            previous = self.states.get(execution_id)
            if previous == state:
                continue
            self.states[execution_id] = state
            event = _state_event(execution)
            event["namespace"] = execution.get("namespace")
            event["flowId"] = execution.get("flowId")
            self.printer.emit(event)
            if state in TERMINAL_STATES and previous not in TERMINAL_STATES:
                self.ended += 1


async def _search(client: httpx.AsyncClient, namespace: str) -> list[dict[str, Any]]:
    body = await get_json(
        client,
        "/api/v1/executions/search",
        namespace=namespace,
        page=1,
        size=WATCH_PAGE_SIZE,
        sort="state.startDate:desc",
    )
    results = body.get("results") if isinstance(body, dict) else None
    return [item for item in results or [] if isinstance(item, dict)]


async def watch_namespace(
    settings: ClientSettings,
    namespace: str,
    printer: Printer,
    interval_s: float,
    count: int | None,
    retries: int = DEFAULT_RETRIES,
) -> int:
    async with open_client(settings) as client:
        retry = Reconnect(printer, retries)
        watch = NamespaceWatch(printer)
        while True:
            try:
                watch.baseline(await _search(client, namespace))
                break
            except ClientError as err:
                await retry.pause(err, "watch")
        retry.connected()
        printer.emit({"type": "watch", "namespace": namespace})
        while True:
            try:
                executions = await _search(client, namespace)
            except ClientError as err:
                await retry.pause(err, "watch")
                continue
            retry.connected()
            watch.observe(executions)
            if count is not None and watch.ended >= count:
                return EXIT_SUCCESS
            await asyncio.sleep(interval_s)


@app.command()
def watch(
    namespace: Annotated[str, typer.Option("--namespace", help="The namespace to watch.")],
    fmt: FormatOpt = OutputFormat.TEXT,
    interval: Annotated[
        float, typer.Option("--interval", min=0.05, help="Seconds between polls.")
    ] = 1.0,
    count: Annotated[
        int | None,
        typer.Option("--count", min=1, help="Stop after this many executions reached an end."),
    ] = None,
    retries: RetriesOpt = DEFAULT_RETRIES,
) -> None:
    """Report new executions of a namespace and their state changes until Ctrl-C (or --count)."""
    printer = Printer(fmt)
    settings = ClientSettings.from_environ()
    try:
        code = asyncio.run(watch_namespace(settings, namespace, printer, interval, count, retries))
    except ClientError as err:
        printer.error(err)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        code = EXIT_SUCCESS
    raise typer.Exit(code)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
