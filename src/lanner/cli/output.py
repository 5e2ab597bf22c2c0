"""The output layer of the ``lanner`` client commands: human text (rich) or JSON, exit codes.

Every client command prints either for people (tables, coloured states) or, with ``--format
json``, one JSON document (JSON lines for ``--follow``) on stdout. Errors go to stderr as one
line with the server's message, never a traceback: exit 2 for usage and HTTP errors, 1 for an
execution that ended FAILED/KILLED (or any other unsuccessful end), 0 otherwise. This module
talks to no server and must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from lanner.cli.client import ClientError, ClientSettings
from lanner.domain.states import TERMINATED

EXIT_SUCCESS = 0
EXIT_FAILED = 1
EXIT_ERROR = 2
SUCCESSFUL_STATES = frozenset({"SUCCESS", "WARNING"})
TERMINAL_STATES = frozenset(state.value for state in TERMINATED)

STATE_STYLES = {
    "SUCCESS": "bold green",
    "WARNING": "bold yellow",
    "FAILED": "bold red",
    "KILLED": "bold red",
    "KILLING": "red",
    "CANCELLED": "bold red",
    "RUNNING": "bold cyan",
    "RESTARTED": "cyan",
    "RETRYING": "yellow",
    "CREATED": "blue",
    "QUEUED": "blue",
    "PAUSED": "bold magenta",
    "SKIPPED": "dim",
}
LEVEL_STYLES = {"ERROR": "red", "WARN": "yellow", "DEBUG": "dim", "TRACE": "dim"}

stdout = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


class Format(StrEnum):
    HUMAN = "human"
    JSON = "json"


FormatOpt = Annotated[
    Format, typer.Option("--format", help="human (tables, colours) or json (machine-readable).")
]


def state_of(execution: Mapping[str, Any]) -> str:
    return str((execution.get("state") or {}).get("current") or "")


def exit_code_of(state: str) -> int:
    """0 unless the execution ended in a state other than SUCCESS/WARNING."""
    return EXIT_FAILED if state in TERMINAL_STATES and state not in SUCCESSFUL_STATES else 0


def styled_state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def table(columns: Sequence[str], rows: Iterable[Sequence[RenderableType]]) -> Table:
    grid = Table(*columns, box=None, pad_edge=False, header_style="bold")
    for row in rows:
        grid.add_row(*row)
    return grid


def task_runs_table(execution: Mapping[str, Any]) -> Table:
    runs = execution.get("taskRunList") or []
    with_values = any(run.get("value") for run in runs)  # loop iterations only
    rows = []
    for run in runs:
        state = run.get("state") or {}
        attempts = len(run.get("attempts") or [])
        row: list[RenderableType] = [str(run.get("taskId", ""))]
        row += [str(run.get("value") or "")] if with_values else []
        row += [styled_state(str(state.get("current", ""))), str(attempts or "")]
        rows.append([*row, str(state.get("duration") or "")])
    columns = ["task", *(["value"] if with_values else []), "state", "attempts", "duration"]
    return table(columns, rows)


def execution_view(execution: Mapping[str, Any]) -> RenderableType:
    """The header line (flow, id, state) and the task runs of an execution."""
    header = Text.assemble(
        (f"{execution.get('namespace')}.{execution.get('flowId')}", "bold"),
        f"  {execution.get('id')}  ",
        styled_state(state_of(execution)),
    )
    duration = (execution.get("state") or {}).get("duration")
    if duration:
        header.append(f"  {duration}")
    if not execution.get("taskRunList"):
        return header
    return Group(header, task_runs_table(execution))


def log_line(entry: Mapping[str, Any]) -> Text:
    level = str(entry.get("level", ""))
    return Text.assemble(
        (str(entry.get("timestamp", "")), "dim"),
        " ",
        (f"{level:<5}", LEVEL_STYLES.get(level, "")),
        " ",
        (str(entry.get("taskId") or "-"), "bold"),
        " ",
        str(entry.get("message", "")),
    )


def report_error(err: ClientError, fmt: Format) -> None:
    if fmt is Format.JSON:
        body = {"type": "error", "status": err.status, "message": err.message}
        sys.stderr.write(json.dumps(body, ensure_ascii=False) + "\n")
    else:
        stderr.print(Text(f"lanner: error: {err.message}"))
    for path, message in err.details:
        stderr.print(Text(f"  {path}: {message}"))


def usage_error(message: str) -> typer.Exit:
    """Print a usage problem and return the exit to raise (code 2)."""
    stderr.print(Text(f"lanner: error: {message}"))
    return typer.Exit(EXIT_ERROR)


def run_command(command: Coroutine[Any, Any, int | None], fmt: Format) -> None:
    """Run a command's coroutine; exit with its code, or 2 with the server's message."""
    try:
        code = asyncio.run(command)
    except ClientError as err:
        report_error(err, fmt)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(code or EXIT_SUCCESS)


def client_settings() -> ClientSettings:
    """The connection settings (environment, config file); exit 2 when they cannot be read."""
    try:
        return ClientSettings.from_environ()
    except ClientError as err:
        report_error(err, Format.HUMAN)
        raise typer.Exit(EXIT_ERROR) from None
