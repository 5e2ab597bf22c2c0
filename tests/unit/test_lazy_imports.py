"""What a server process imports: the API only in the roles that serve it, the client commands
and the task families only when used (issue #21, memory)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lanner.cli.main import CLIENT_COMMANDS, app


def imported_after(code: str, *watched: str) -> list[str]:
    script = f"import sys\n{code}\nprint(__import__('json').dumps(sorted(m for m in {watched!r} if m in sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    found: list[str] = json.loads(out.splitlines()[-1])
    return found


HEAVY = (
    "fastapi",
    "uvicorn",
    "lanner.api.app",
    "lanner.mcp",
    "lanner.ui",
    "httpx",
    "rich",
    "cryptography",
    "alembic",
    "amazon.ion",
    "lanner.tasks.core.http",
    "lanner.tasks.core.storage",
    "lanner.tasks.scripts.shell",
)


def test_the_cli_and_the_wiring_import_no_api_client_or_optional_library() -> None:
    assert imported_after("import lanner.cli.main, lanner.bootstrap", *HEAVY) == []


def test_the_engine_imports_no_task_family_but_the_flowables() -> None:
    found = imported_after(
        "import lanner.engine.service, lanner.flows",
        "lanner.tasks.core.flow",
        *HEAVY,
    )
    assert found == ["lanner.tasks.core.flow"]  # the parser's Dag and Switch checks


def test_the_api_loads_the_mcp_sdk_at_the_first_mcp_request_only() -> None:
    assert imported_after("import lanner.api.app, lanner.mcp.http", "mcp", "mcp_types") == []


@pytest.mark.parametrize("name", sorted(CLIENT_COMMANDS))
def test_every_client_command_is_found_where_the_table_says(name: str) -> None:
    import typer.main

    group = typer.main.get_command(app)
    command = group.get_command(None, name)  # type: ignore[attr-defined]
    assert command is not None, name
    assert command.name == name


def test_listing_the_commands_names_every_client_command() -> None:
    import typer.main

    group = typer.main.get_command(app)
    names = group.list_commands(None)  # type: ignore[attr-defined]
    assert set(CLIENT_COMMANDS) <= set(names)
    assert {"server", "admin", "cluster", "version"} <= set(names)
    assert len(names) == len(set(names))
