"""``lanner run|status|logs|kill|restart|replay|resume``: executions over the HTTP API.

``run NS FLOW --input k=v --input k=@file --label k:v [--wait] [--follow]`` sends the inputs as
multipart parts (a ``@file`` value as a file part named by the input, as Kestra takes FILE
inputs) and the labels as ``labels=k:v`` query parameters. ``--wait`` shows a live view of the
task runs until the end, ``--follow`` the log lines as well; both exit 1 when the execution
ends FAILED/KILLED. HTTP only: never ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO, Annotated, Any

import httpx
import typer

from lanner.cli.client import call_json, open_client
from lanner.cli.live import watch
from lanner.cli.output import (
    Format,
    FormatOpt,
    client_settings,
    emit_json,
    execution_view,
    exit_code_of,
    log_line,
    run_command,
    state_of,
    stdout,
    usage_error,
)
from lanner.domain.logs import LogLevel

InputOpt = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", help="An input: key=value, or key=@path to send a file."),
]
WaitOpt = Annotated[bool, typer.Option("--wait", help="Show the task runs live until the end.")]
FollowOpt = Annotated[
    bool, typer.Option("--follow", help="Like --wait, and print the log lines as they come.")
]
TaskRunOpt = Annotated[str | None, typer.Option("--task-run", help="From this task run id.")]
IdArg = Annotated[str, typer.Argument(help="The execution id.")]

Part = tuple[str, tuple[str | None, str | IO[bytes]]]


def parse_inputs(values: list[str]) -> tuple[dict[str, str], dict[str, Path]]:
    """``key=value`` texts and ``key=@path`` files; ValueError naming the bad one."""
    texts: dict[str, str] = {}
    files: dict[str, Path] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--input {item!r}: expected key=value or key=@path")
        if value.startswith("@"):
            path = Path(value[1:]).expanduser()
            if not path.is_file():
                raise ValueError(f"--input {key}: no such file {value[1:]!r}")
            files[key] = path
        else:
            texts[key] = value
    return texts, files


def parse_labels(values: list[str]) -> list[str]:
    """``key:value`` labels as Kestra's ``labels`` query parameter takes them."""
    for item in values:
        key, sep, _ = item.partition(":")
        if not sep or not key:
            raise ValueError(f"--label {item!r}: expected key:value")
    return list(values)


def _parts(inputs: list[str] | None, stack: contextlib.ExitStack) -> list[Part]:
    try:
        texts, files = parse_inputs(inputs or [])
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    parts: list[Part] = [(key, (None, value)) for key, value in texts.items()]
    parts += [(key, (key, stack.enter_context(path.open("rb")))) for key, path in files.items()]
    return parts


async def _finish(
    client: httpx.AsyncClient, execution: dict[str, Any], fmt: Format, wait: bool, follow: bool
) -> int:
    """Print the execution, or follow it to its end (exit 1 when it ended unsuccessfully)."""
    if not (wait or follow):
        if fmt is Format.JSON:
            emit_json(execution)
        else:
            stdout.print(execution_view(execution))
            if execution.get("url"):
                stdout.print(str(execution["url"]))
        return 0
    final = await watch(client, str(execution["id"]), fmt, with_logs=follow, stream_json=follow)
    if fmt is Format.JSON and not follow:
        emit_json(final)
    return exit_code_of(state_of(final))


async def _action(
    method: str, path: str, fmt: Format, wait: bool = False, follow: bool = False, **kw: Any
) -> int:
    """Send an action; show the execution it answers (or, when it answers none, the one of
    ``path``: kill and resume answer no body)."""
    async with open_client(client_settings()) as client:
        execution = await call_json(client, method, path, **kw)
        if not isinstance(execution, dict) or "id" not in execution:
            execution_path = "/".join(path.split("/")[:5])  # /api/v1/executions/{id}
            execution = await call_json(client, "GET", execution_path)
        return await _finish(client, execution, fmt, wait, follow)


def run(
    namespace: Annotated[str, typer.Argument(help="The flow's namespace.")],
    flow_id: Annotated[str, typer.Argument(help="The flow id.")],
    inputs: InputOpt = None,
    labels: Annotated[
        list[str] | None, typer.Option("--label", "-l", help="A label key:value.")
    ] = None,
    wait: WaitOpt = False,
    follow: FollowOpt = False,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Start an execution of a flow."""
    try:
        label_params = parse_labels(labels or [])
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    with contextlib.ExitStack() as stack:
        parts = _parts(inputs, stack)
        path = f"/api/v1/executions/{namespace}/{flow_id}"
        params = {"labels": label_params} if label_params else None
        files = parts or None  # no inputs: no body, as curl -X POST sends it
        run_command(_action("POST", path, fmt, wait, follow, params=params, files=files), fmt)


def status(execution_id: IdArg, fmt: FormatOpt = Format.HUMAN) -> None:
    """Show an execution and its task runs (exit 1 when it ended FAILED/KILLED)."""

    async def show() -> int:
        async with open_client(client_settings()) as client:
            execution = await call_json(client, "GET", f"/api/v1/executions/{execution_id}")
        if fmt is Format.JSON:
            emit_json(execution)
        else:
            stdout.print(execution_view(execution))
        return exit_code_of(state_of(execution))

    run_command(show(), fmt)


def logs(
    execution_id: IdArg,
    follow: Annotated[bool, typer.Option("--follow", help="Until the execution ends.")] = False,
    min_level: Annotated[
        LogLevel | None, typer.Option("--min-level", help="Only lines at this level or above.")
    ] = None,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Print an execution's log lines (JSON: one list, or JSON lines with --follow)."""
    level = min_level.value if min_level is not None else None

    async def show() -> int:
        async with open_client(client_settings()) as client:
            if follow:
                final = await watch(
                    client, execution_id, fmt, with_logs=True, with_state=False, min_level=level
                )
                return exit_code_of(state_of(final))
            params = {"minLevel": level} if level else None
            entries = await call_json(client, "GET", f"/api/v1/logs/{execution_id}", params=params)
        if fmt is Format.JSON:
            emit_json(entries)
        else:
            for entry in entries:
                stdout.print(log_line(entry))
        return 0

    run_command(show(), fmt)


def kill(execution_id: IdArg, fmt: FormatOpt = Format.HUMAN) -> None:
    """Kill a running execution (and its subflows)."""

    path = f"/api/v1/executions/{execution_id}/kill"
    run_command(_action("DELETE", path, fmt), fmt)


def restart(
    execution_id: IdArg,
    task_run: TaskRunOpt = None,
    wait: WaitOpt = False,
    follow: FollowOpt = False,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Restart a failed execution (from its failed task runs, or from --task-run)."""
    params = {"taskRunId": task_run} if task_run else None
    path = f"/api/v1/executions/{execution_id}/restart"
    run_command(_action("POST", path, fmt, wait, follow, params=params), fmt)


def replay(
    execution_id: IdArg,
    task_run: TaskRunOpt = None,
    wait: WaitOpt = False,
    follow: FollowOpt = False,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Replay an execution as a new one (from the start, or from --task-run)."""
    params = {"taskRunId": task_run} if task_run else None
    path = f"/api/v1/executions/{execution_id}/replay"
    run_command(_action("POST", path, fmt, wait, follow, params=params), fmt)


def resume(
    execution_id: IdArg,
    inputs: InputOpt = None,
    wait: WaitOpt = False,
    follow: FollowOpt = False,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Resume a paused execution (with the Pause task's onResume inputs, if any)."""
    with contextlib.ExitStack() as stack:
        parts = _parts(inputs, stack) or None
        path = f"/api/v1/executions/{execution_id}/resume"
        run_command(_action("POST", path, fmt, wait, follow, files=parts), fmt)


def register(app: typer.Typer) -> None:
    """Add the execution commands to the ``lanner`` app."""
    for command in (run, status, logs, kill, restart, replay, resume):
        app.command(command.__name__)(command)
