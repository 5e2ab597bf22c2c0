"""The layering rules of STYLE.md, checked by parsing imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "lanner"
STDLIB = sys.stdlib_module_names


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("domain"), ids=lambda p: p.name)
def test_domain_imports_only_stdlib_and_itself(path: Path) -> None:
    for name in imports_of(path):
        top = name.split(".")[0]
        assert top in STDLIB or name.startswith("lanner.domain"), f"{path.name} imports {name}"


DRIVERS = ("sqlalchemy", "psycopg", "sqlite3", "alembic", "aiosqlite")


@pytest.mark.parametrize(
    "path",
    [
        p
        for pkg in (
            "api",
            "ui",
            "flows",
            "tasks",
            "templating",
            "domain",
            "cli",
            "engine",
            "storage",
            "mcp",
        )
        for p in modules(pkg)
    ]
    + modules("store/protocols")
    + [SRC / "store" / "__init__.py", SRC / "bootstrap.py"],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_only_store_imports_drivers(path: Path) -> None:
    for name in imports_of(path):
        assert name.split(".")[0] not in DRIVERS, f"{path} imports {name}"


@pytest.mark.parametrize("path", modules("store/protocols"), ids=lambda p: p.name)
def test_store_protocols_import_no_implementation(path: Path) -> None:
    for name in imports_of(path):
        assert not name.startswith(("lanner.store.sqlalchemy", "lanner.engine", "lanner.api")), (
            f"{path.name} imports {name}"
        )


def test_importing_the_store_does_not_import_sqlalchemy() -> None:
    code = f"import sys, lanner.store; print(sorted(m for m in sys.modules if m in {DRIVERS!r}))"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "[]", f"importing lanner.store imported {found}"


@pytest.mark.parametrize(
    "path",
    [p for p in SRC.rglob("*.py") if "store" not in p.relative_to(SRC).parts[:1]],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_only_the_store_and_bootstrap_reach_the_sql_implementation(path: Path) -> None:
    if path == SRC / "bootstrap.py":  # PostgreSQL notifications and leadership, wired there
        return
    for name in imports_of(path):
        assert not name.startswith("lanner.store.sqlalchemy"), f"{path} imports {name}"


GROUND_FLOOR_BANS = (
    "lanner.engine",
    "lanner.api",
    "lanner.flows",
    "lanner.cli",
    "lanner.bootstrap",
)


@pytest.mark.parametrize("path", modules("tasks"), ids=lambda p: p.name)
def test_tasks_do_not_import_the_engine_api_or_parser(path: Path) -> None:
    """Task classes and ``RunContext`` are the ground floor the engine builds on."""
    for name in imports_of(path):
        assert not name.startswith(GROUND_FLOOR_BANS), f"{path.name} imports {name}"


# The stdio proxy runs on a desktop against a remote server: only ``local`` and ``http`` (the
# built-in server) reach the server side.
MCP_SERVER_SIDE = frozenset({"local.py", "http.py"})


@pytest.mark.parametrize(
    "path",
    [p for p in modules("mcp") if p.name not in MCP_SERVER_SIDE],
    ids=lambda p: str(p.relative_to(SRC / "mcp")),
)
def test_mcp_proxy_side_imports_no_server_side(path: Path) -> None:
    for imported in imports_of(path):
        assert not imported.startswith(("lanner.api", "lanner.engine", "lanner.store")), (
            f"{path} imports {imported}"
        )


@pytest.mark.parametrize("path", modules("mcp"), ids=lambda p: p.name)
def test_mcp_does_not_import_the_cli_entry_or_bootstrap(path: Path) -> None:
    for name in imports_of(path):
        assert not name.startswith(("lanner.bootstrap", "lanner.cli.main")), (
            f"{path.name} imports {name}"
        )
