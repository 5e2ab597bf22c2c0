"""Every outbound call Lanner makes has an explicit timeout: found by parsing the source, so a
new client or request without one fails here."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "lanner"

# Calls that open a connection or build a client; each must say ``timeout=``.
NEEDS_TIMEOUT = {
    "httpx.AsyncClient",
    "httpx.Client",
    "httpx.get",
    "httpx.post",
    "httpx.put",
    "httpx.delete",
    "httpx.request",
    "httpx.stream",
    "aconnect_sse",
    "connect_sse",
    "urllib.request.urlopen",
    "urlopen",
    "asyncio.open_connection",
    "socket.create_connection",
    "smtplib.SMTP",
}
# Client libraries Lanner does not use: one appearing must be reviewed (and added above).
UNREVIEWED_MODULES = ("requests", "aiohttp", "urllib3", "http.client", "websockets")


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def outbound_calls() -> list[tuple[str, str, bool]]:
    found: list[tuple[str, str, bool]] = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and dotted(node.func) in NEEDS_TIMEOUT:
                has_timeout = any(k.arg == "timeout" for k in node.keywords)
                where = f"{path.relative_to(SRC)}:{node.lineno}"
                found.append((where, dotted(node.func), has_timeout))
    return found


def test_every_outbound_call_has_an_explicit_timeout() -> None:
    calls = outbound_calls()
    assert any(name == "httpx.AsyncClient" for _, name, _ in calls), "the CLI's client is found"
    missing = [f"{where} {name}" for where, name, has_timeout in calls if not has_timeout]
    assert missing == []


def test_no_unreviewed_http_client_library_is_used() -> None:
    used: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name == "urllib.request" or name.split(".")[0] in UNREVIEWED_MODULES:
                    used.append(f"{path.relative_to(SRC)} imports {name}")
                elif name in UNREVIEWED_MODULES:
                    used.append(f"{path.relative_to(SRC)} imports {name}")
    assert used == []
