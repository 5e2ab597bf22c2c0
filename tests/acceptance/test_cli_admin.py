"""`lanner admin token …` and settings errors through the real CLI and a real server process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.acceptance.conftest import free_port, wait_for

CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith("LANNER_") or k.startswith("LANNER_TEST")
}


def lanner(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lanner.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env or CLEAN_ENV,
        check=False,
    )


@pytest.fixture
def server_on(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A server without basic auth on a data dir the test can also open with `lanner admin`."""
    data_dir = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lanner.cli.main",
            "server",
            "local",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=CLEAN_ENV,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )

    def healthy() -> bool | None:
        assert proc.poll() is None, (tmp_path / "server.log").read_text()
        try:
            return True if httpx.get(url + "/health", timeout=2).status_code == 200 else None
        except httpx.TransportError:
            return None

    try:
        wait_for(healthy, timeout_s=60, what="server health")
        yield url, data_dir
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


def test_token_lifecycle_against_running_server(server_on: tuple[str, Path]) -> None:
    url, data_dir = server_on
    assert httpx.get(url + "/api/v1/flows/search").status_code == 200, "auth off without tokens"

    created = lanner(
        "admin",
        "token",
        "create",
        "--name",
        "bot",
        "--expires",
        "P30D",
        "--data-dir",
        str(data_dir),
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("lnr_")

    bearer = {"Authorization": f"Bearer {secret}"}

    def auth_required() -> bool | None:
        return True if httpx.get(url + "/api/v1/flows/search").status_code == 401 else None

    wait_for(auth_required, timeout_s=10, what="auth to turn on once a token exists")
    assert httpx.get(url + "/api/v1/flows/search", headers=bearer).status_code == 200

    listed = lanner("admin", "token", "list", "--data-dir", str(data_dir))
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["name"], r["active"]) for r in rows] == [("bot", True)]
    assert secret not in listed.stdout

    duplicate = lanner("admin", "token", "create", "--name", "bot", "--data-dir", str(data_dir))
    assert duplicate.returncode != 0
    assert "Traceback" not in duplicate.stderr

    revoked = lanner("admin", "token", "revoke", "bot", "--data-dir", str(data_dir))
    assert revoked.returncode == 0, revoked.stderr
    assert lanner("admin", "token", "revoke", "nobody", "--data-dir", str(data_dir)).returncode == 1


def test_bad_expiry_is_a_one_line_error(tmp_path: Path) -> None:
    result = lanner(
        "admin", "token", "create", "--name", "x", "--expires", "soon", "--data-dir", str(tmp_path)
    )
    assert result.returncode == 2
    assert "ISO-8601 duration" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env_extra", "fragment"),
    [
        ({"LANNER_PORT": "notaport"}, "port must be an integer"),
        ({"LANNER_DATABASE_URL": "mysql://nope"}, "database URL"),
        ({"LANNER_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "lanner:"),
    ],
)
def test_bad_settings_stop_the_server_with_one_line(
    tmp_path: Path, env_extra: dict[str, str], fragment: str
) -> None:
    env = {**CLEAN_ENV, **env_extra}
    result = lanner("server", "local", "--data-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
