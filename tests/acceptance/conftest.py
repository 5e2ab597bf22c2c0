"""Acceptance fixtures: a real `lanner server local` process per backend, and real clients.

The server runs as a separate process on a free port with a temporary data directory and
HTTP Basic auth on. It is parametrized over the store backends: SQLite (always) and
PostgreSQL (a fresh database per session on the server named by `LANNER_TEST_POSTGRES_URL`;
skipped without it locally, a failure when `CI=true`).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCEPTANCE_DIR = Path(__file__).resolve().parent

SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.1

USERNAME = "acceptance@lanner.test"
PASSWORD = "s3cret-Pa55word"

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` of the servers the tests start: SIGKILL them when the test process dies
    (a killed pytest run must not leave ``lanner server`` processes behind; Linux only)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# Settings of the developer's shell must not leak into the server under test.
_SERVER_ENV_DROPPED = (
    "LANNER_DATABASE_URL",
    "LANNER_CONFIG",
    "LANNER_HOST",
    "LANNER_PORT",
    "LANNER_DATA_DIR",
    "LANNER_BASIC_AUTH_USERNAME",
    "LANNER_BASIC_AUTH_PASSWORD",
)

T = TypeVar("T")


def is_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip locally; in CI a missing prerequisite is a failure, never a silent skip."""
    if is_ci():
        pytest.fail(f"{reason} (CI=true: acceptance prerequisites must be present)")
    pytest.skip(reason)


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = POLL_INTERVAL_S,
) -> T:
    """Poll `probe` until it returns something other than None, or fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class LannerServer:
    """A running server process as the tests see it."""

    url: str
    port: int
    username: str
    password: str
    backend: str
    log_path: Path

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "<no server log>"
        return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- database


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def _admin_conninfo(url: str) -> str:
    # psycopg speaks libpq URLs; SQLAlchemy-style driver suffixes are not libpq.
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url


@pytest.fixture(scope="session")
def acceptance_postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, dropped afterwards."""
    base_url = os.environ.get("LANNER_TEST_POSTGRES_URL")
    if not base_url:
        skip_or_fail("LANNER_TEST_POSTGRES_URL is not set")
    psycopg = pytest.importorskip("psycopg")

    name = f"lanner_acceptance_{uuid.uuid4().hex[:12]}"
    admin = _admin_conninfo(base_url)
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL at LANNER_TEST_POSTGRES_URL is not reachable: {exc}")

    yield _with_database(base_url, name)

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


# --------------------------------------------------------------------------- server


def _server_command(port: int, data_dir: Path) -> list[str]:
    args = ["server", "local", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--data-dir", str(data_dir)]
    console_script = Path(sys.executable).with_name("lanner")
    if console_script.exists():
        return [str(console_script), *args]
    return [sys.executable, "-m", "lanner.cli.main", *args]


def _health_probe(url: str, proc: subprocess.Popen[bytes]) -> Callable[[], bool | None]:
    def probe() -> bool | None:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before /health")
        try:
            response = httpx.get(f"{url}/health", timeout=2.0)
        except httpx.TransportError:
            return None
        return True if response.status_code == 200 else None

    return probe


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it after a deadline."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)


@pytest.fixture
def own_postgres_url(acceptance_postgres_url: str) -> Iterator[str]:
    """A database of this test's own: a second ``server local`` on the session's database
    would run a second executor over the same executions (``server local`` takes no
    leadership lock), so a test that starts its own server needs its own database."""
    psycopg = pytest.importorskip("psycopg")
    name = f"{acceptance_postgres_url.rsplit('/', 1)[1]}_{uuid.uuid4().hex[:8]}"
    admin = _admin_conninfo(acceptance_postgres_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _with_database(acceptance_postgres_url, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def lanner_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LannerServer]:
    """`lanner server local` as a real process, with Basic auth on, ready on /health."""
    backend: str = request.param
    root = tmp_path_factory.mktemp(f"lanner-{backend}")
    data_dir = root / "data"
    data_dir.mkdir()
    log_path = root / "server.log"

    env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROPPED}
    env["LANNER_BASIC_AUTH_USERNAME"] = USERNAME
    env["LANNER_BASIC_AUTH_PASSWORD"] = PASSWORD
    env["PYTHONUNBUFFERED"] = "1"
    if backend == "postgres":
        env["LANNER_DATABASE_URL"] = request.getfixturevalue("acceptance_postgres_url")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = LannerServer(url, port, USERNAME, PASSWORD, backend, log_path)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            _server_command(port, data_dir),
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown reaches any child
            preexec_fn=die_with_parent,
        )
    try:
        try:
            wait_for(
                _health_probe(url, proc),
                timeout_s=SERVER_START_TIMEOUT_S,
                what=f"GET {url}/health",
            )
        except (TimeoutError, RuntimeError) as exc:
            pytest.fail(f"lanner server ({backend}) did not start: {exc}\n{server.log_tail()}")
        yield server
    finally:
        _stop(proc)


@pytest.fixture
def unique_namespace(request: pytest.FixtureRequest) -> str:
    """A namespace no other test uses (servers are shared across a session)."""
    stem = "".join(c if c.isalnum() else "_" for c in request.node.originalname.lower())
    return f"acceptance.{stem[:40]}.{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- kestrapy 2.0

SDK2_VERSION = "2.0.3"
SDK2_VENV = REPO_ROOT / ".cache" / "sdk2-venv"
SDK2_INSTALL_TIMEOUT_S = 600.0


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _sdk2_is_ready(venv: Path) -> bool:
    python = _venv_python(venv)
    if not python.exists():
        return False
    check = subprocess.run(
        [str(python), "-c", "import regex, kestrapy; print(kestrapy.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return check.returncode == 0 and check.stdout.strip() == SDK2_VERSION


@contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold ``<repo>/.cache/<name>.lock``: test processes running at once (pytest-xdist's
    workers) prepare a venv under ``.cache`` one at a time, the later ones reusing it."""
    path = REPO_ROOT / ".cache" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def sdk2_python() -> Path:
    """Interpreter of a venv holding kestrapy 2.0.3 (+ `regex`, which it imports undeclared).

    Created once under `<repo>/.cache/sdk2-venv` and reused while it has the right version.
    """
    with cache_lock("sdk2-venv"):
        return _prepare_sdk2_venv()


def _prepare_sdk2_venv() -> Path:
    if _sdk2_is_ready(SDK2_VENV):
        return _venv_python(SDK2_VENV)
    SDK2_VENV.parent.mkdir(parents=True, exist_ok=True)
    if SDK2_VENV.exists():
        shutil.rmtree(SDK2_VENV)
    steps = [
        [sys.executable, "-m", "venv", str(SDK2_VENV)],
        [
            str(_venv_python(SDK2_VENV)),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            f"kestrapy=={SDK2_VERSION}",
            "regex",
        ],
    ]
    for step in steps:
        done = subprocess.run(
            step, capture_output=True, text=True, timeout=SDK2_INSTALL_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            pytest.fail(
                f"could not prepare the kestrapy {SDK2_VERSION} venv: {' '.join(step)}\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
    if not _sdk2_is_ready(SDK2_VENV):
        pytest.fail(f"{SDK2_VENV} does not import kestrapy {SDK2_VERSION} after install")
    return _venv_python(SDK2_VENV)


# --------------------------------------------------------------------------- flows

FLOWS_DIR = ACCEPTANCE_DIR / "flows"


def render_flow(name: str, **values: str) -> str:
    """A sample flow from `flows/<name>.yaml` with `${...}` placeholders filled in."""
    template = string.Template((FLOWS_DIR / f"{name}.yaml").read_text())
    return template.substitute(values)


@pytest.fixture
def flow_yaml() -> Callable[..., str]:
    """`flow_yaml("hello", flow_id=..., namespace=..., message=...)` -> YAML source."""
    return render_flow


@pytest.fixture(scope="session")
def curl_bin() -> str:
    """The real curl binary (skipped without it locally, a failure in CI)."""
    found = shutil.which("curl")
    if found is None:
        skip_or_fail("curl is not installed")
    return found
