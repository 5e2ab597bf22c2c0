"""``lanner kv get|set|delete|list``: a namespace's key-value store over the HTTP API.

``set NS KEY VALUE`` sends VALUE as Kestra reads a KV body: JSON (``42``, ``"a text"``,
``{"a": 1}``), an ISO date, datetime or duration, or a bare word as a string; ``--text`` sends
any text as a string. HTTP only: never ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lanner.cli.client import call_json, open_client
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
from lanner.domain.times import parse_duration

app = typer.Typer(
    help="Read and write a namespace's key-value store.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
NamespaceArg = Annotated[str, typer.Argument(help="The namespace.")]
KeyArg = Annotated[str, typer.Argument(help="The key.")]


def _path(namespace: str, key: str | None = None) -> str:
    return f"/api/v1/namespaces/{namespace}/kv" + (f"/{key}" if key is not None else "")


@app.command("list")
def list_keys(namespace: NamespaceArg, fmt: FormatOpt = Format.HUMAN) -> None:
    """List a namespace's keys."""

    async def show() -> int:
        async with open_client(client_settings()) as client:
            entries = await call_json(client, "GET", _path(namespace))
        if fmt is Format.JSON:
            emit_json(entries)
        else:
            keys = ("key", "updateDate", "expirationDate", "description")
            rows = [[str(e.get(k) or "") for k in keys] for e in entries]
            stdout.print(table(("key", "updated", "expires", "description"), rows))
        return 0

    run_command(show(), fmt)


@app.command()
def get(namespace: NamespaceArg, key: KeyArg, fmt: FormatOpt = Format.HUMAN) -> None:
    """Print a value (human: the value itself; json: its type, value and revision)."""

    async def show() -> int:
        async with open_client(client_settings()) as client:
            entry = await call_json(client, "GET", _path(namespace, key))
        if fmt is Format.JSON:
            emit_json(entry)
        else:
            value = entry.get("value")
            stdout.out(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        return 0

    run_command(show(), fmt)


@app.command("set")
def set_value(
    namespace: NamespaceArg,
    key: KeyArg,
    value: Annotated[str, typer.Argument(help="JSON, an ISO date/duration, or a bare word.")],
    text: Annotated[bool, typer.Option("--text", help="Store VALUE as a string.")] = False,
    ttl: Annotated[
        str | None, typer.Option("--ttl", help="Expire after this ISO-8601 duration (PT1H).")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    fmt: FormatOpt = Format.HUMAN,
) -> None:
    """Set a value."""
    headers = {"Content-Type": "text/plain"}
    if ttl is not None:
        lifetime = parse_duration(ttl)
        if lifetime is None or lifetime.total_seconds() <= 0:
            raise usage_error(
                f"--ttl must be a positive ISO-8601 duration such as PT1H, got {ttl!r}"
            )
        headers["ttl"] = ttl
    if description is not None:
        headers["description"] = description
    body = json.dumps(value, ensure_ascii=False) if text else value

    async def act() -> int:
        async with open_client(client_settings()) as client:
            path = _path(namespace, key)
            await call_json(client, "PUT", path, content=body.encode(), headers=headers)
            entry = await call_json(client, "GET", path)
        if fmt is Format.JSON:
            emit_json({"namespace": namespace, "key": key, **entry})
        else:
            stdout.print(
                f"{namespace} {key} = {entry.get('type')} (revision {entry.get('revision')})"
            )
        return 0

    run_command(act(), fmt)


@app.command()
def delete(namespace: NamespaceArg, key: KeyArg, fmt: FormatOpt = Format.HUMAN) -> None:
    """Delete a key (exit 2 when it does not exist)."""

    async def act() -> int:
        async with open_client(client_settings()) as client:
            deleted = await call_json(client, "DELETE", _path(namespace, key))
        if fmt is Format.JSON:
            emit_json({"namespace": namespace, "key": key, "deleted": bool(deleted)})
        else:
            stdout.print(
                f"deleted {namespace} {key}" if deleted else f"no key {key} in {namespace}"
            )
        return 0 if deleted else 2

    run_command(act(), fmt)
