"""``lanner files upload|download|list``: namespace files over the HTTP API.

HTTP only: never ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lanner.cli.client import call_json, open_client, send
from lanner.cli.output import (
    Format,
    FormatOpt,
    client_settings,
    emit_json,
    run_command,
    stdout,
    table,
    usage_error,
)

app = typer.Typer(
    help="Upload, download and list a namespace's files.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
NamespaceArg = Annotated[str, typer.Argument(help="The namespace.")]


def _path(namespace: str, suffix: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/files{suffix}"


def _remote(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"


@app.command()
def upload(
    namespace: NamespaceArg,
    local: Annotated[Path, typer.Argument(help="The local file.")],
    path: Annotated[
        str | None, typer.Argument(help="Where in the namespace (default: /<file name>).")
    ] = None,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Upload a local file as a namespace file."""
    if not local.is_file():
        raise usage_error(f"no such file: {local}")
    remote = _remote(path or local.name)

    async def act() -> int:
        async with open_client(client_settings()) as client:
            with local.open("rb") as handle:
                await call_json(
                    client, "POST", _path(namespace), params={"path": remote},
                    files={"fileContent": (local.name, handle)},
                )  # fmt: skip
        size = local.stat().st_size
        if fmt is Format.JSON:
            emit_json({"namespace": namespace, "path": remote, "size": size})
        else:
            stdout.print(f"uploaded {local} to {namespace}:{remote} ({size} bytes)")
        return 0

    run_command(act(), fmt)


@app.command()
def download(
    namespace: NamespaceArg,
    path: Annotated[str, typer.Argument(help="The namespace file.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Download a namespace file (to stdout, or to --output)."""
    remote = _remote(path)

    async def act() -> int:
        async with open_client(client_settings()) as client:
            response = await send(client, "GET", _path(namespace), params={"path": remote})
        if response.headers.get("content-type", "").startswith("application/json"):
            raise usage_error(f"{namespace}:{remote} is a directory (see lanner files list)")
        if output is None:
            sys.stdout.buffer.write(response.content)
            sys.stdout.flush()
            return 0
        output.write_bytes(response.content)
        if fmt is Format.JSON:
            emit_json({"namespace": namespace, "path": remote, "output": str(output),
                       "size": len(response.content)})  # fmt: skip
        else:
            stdout.print(
                f"downloaded {namespace}:{remote} to {output} ({len(response.content)} bytes)"
            )
        return 0

    run_command(act(), fmt)


@app.command("list")
def list_files(
    namespace: NamespaceArg,
    path: Annotated[str, typer.Argument(help="The directory.")] = "/",
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """List a directory of namespace files."""

    async def show() -> int:
        async with open_client(client_settings()) as client:
            entries = await call_json(
                client, "GET", _path(namespace, "/directory"), params={"path": _remote(path)}
            )
        if fmt is Format.JSON:
            emit_json(entries)
        else:
            rows = [
                (str(e.get("fileName")), str(e.get("type")), str(e.get("size", "")))
                for e in entries
            ]
            stdout.print(table(("name", "type", "size"), rows))
        return 0

    run_command(show(), fmt)
