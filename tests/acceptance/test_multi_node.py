"""Multi-node on one PostgreSQL: an ``api``, an ``executor`` leader with a hot standby and two
``worker`` processes. Executions triggered through the api node run on both workers; after
kill -9 of one worker mid-run and of the executor leader, the standby takes over, the dead
worker's jobs come back by lease expiry, and every execution finishes exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.acceptance.conftest import (
    _SERVER_ENV_DROPPED,
    PASSWORD,
    SERVER_START_TIMEOUT_S,
    SERVER_STOP_TIMEOUT_S,
    USERNAME,
    die_with_parent,
    free_port,
    wait_for,
)

pytestmark = pytest.mark.postgres

EXECUTIONS = 20
TASKS = ("first", "nap", "last")
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"}
# A dead worker's jobs return after its lease (30 s) expires and the leader's re-queue pass.
RECOVERY_TIMEOUT_S = 180.0

FLOW = """\
id: multi
namespace: {namespace}
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ execution.id }}}}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.first.value }}}}-done"
"""


def _lanner(*args: str) -> list[str]:
    console_script = Path(sys.executable).with_name("lanner")
    if console_script.exists():
        return [str(console_script), *args]
    return [sys.executable, "-m", "lanner.cli.main", *args]


@dataclass
class Cluster:
    """The processes of one multi-node deployment, each in its own process group."""

    root: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        data_dir = self.root / "data"  # one shared internal storage (same machine)
        data_dir.mkdir(exist_ok=True)
        with (self.root / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                _lanner("server", *args, "--data-dir", str(data_dir)),
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.procs[name] = proc
        return proc

    def log_of(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_log(self, name: str, text: str) -> None:
        proc = self.procs[name]

        def probe() -> bool | None:
            if text in self.log_of(name):
                return True
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.log_of(name)}")
            return None

        wait_for(probe, timeout_s=SERVER_START_TIMEOUT_S, what=f"{name} to log {text!r}")

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)

    def stop_all(self) -> None:
        alive = [proc for proc in self.procs.values() if proc.poll() is None]
        for proc in alive:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in alive:
            try:
                proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=SERVER_STOP_TIMEOUT_S)

    def tails(self) -> str:
        return "\n".join(
            f"--- {name}\n" + "\n".join(self.log_of(name).splitlines()[-30:]) for name in self.procs
        )


@pytest.fixture
def cluster(acceptance_postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROPPED}
    # A database of its own: the session's shared one may hold another server's work.
    env["LANNER_DATABASE_URL"] = _fresh_database(acceptance_postgres_url)
    env["LANNER_BASIC_AUTH_USERNAME"] = USERNAME
    env["LANNER_BASIC_AUTH_PASSWORD"] = PASSWORD
    env["PYTHONUNBUFFERED"] = "1"
    nodes = Cluster(tmp_path, env)
    try:
        yield nodes
    finally:
        nodes.stop_all()
        _drop_database(acceptance_postgres_url, env["LANNER_DATABASE_URL"])


def _fresh_database(session_url: str) -> str:
    import psycopg
    from tests.acceptance.conftest import _admin_conninfo, _with_database

    name = f"{session_url.rsplit('/', 1)[1]}_multi"
    with psycopg.connect(_admin_conninfo(session_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_database(session_url, name)


def _drop_database(session_url: str, url: str) -> None:
    import psycopg
    from tests.acceptance.conftest import _admin_conninfo

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_admin_conninfo(session_url), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _trigger(client: httpx.Client, namespace: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = client.post(f"/api/v1/executions/{namespace}/multi")
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    return ids


def _all_ended(client: httpx.Client, ids: list[str]) -> dict[str, dict[str, object]] | None:
    executions = {}
    for execution_id in ids:
        response = client.get(f"/api/v1/executions/{execution_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        if body["state"]["current"] not in TERMINAL:
            return None
        executions[execution_id] = body
    return executions


def _check_exactly_once(executions: dict[str, dict[str, object]]) -> set[str]:
    """Every execution SUCCESS with each task run once; the workers that ran the Sleep's
    attempts (the leader runs the pure Return tasks in its own step)."""
    workers: set[str] = set()
    for execution_id, body in executions.items():
        assert body["state"]["current"] == "SUCCESS", (execution_id, body["state"])  # type: ignore[index]
        runs = body["taskRunList"]
        assert isinstance(runs, list)
        assert Counter(run["taskId"] for run in runs) == Counter(TASKS), (execution_id, runs)
        for run in runs:
            assert run["state"]["current"] == "SUCCESS", (execution_id, run)
            history = [item["state"] for item in run["state"]["histories"]]
            assert history.count("SUCCESS") == 1, (execution_id, run["taskId"], history)
            assert run["attempts"], (execution_id, run)
            if run["taskId"] == "nap":
                workers.update(a["workerId"] for a in run["attempts"] if a.get("workerId"))
            else:
                assert all("/executor-" in a["workerId"] for a in run["attempts"]), run
        last = next(run for run in runs if run["taskId"] == "last")
        assert last["outputs"]["value"] == f"{execution_id}-done"
        states = [item["state"] for item in body["state"]["histories"]]  # type: ignore[index]
        assert states.count("SUCCESS") == 1, (execution_id, states)
    return workers


def test_roles_on_one_database_survive_a_dead_worker_and_leader(
    cluster: Cluster, unique_namespace: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cluster.start("api", "api", "--host", "127.0.0.1", "--port", str(port))
    cluster.wait_log("api", "lanner listening on")  # migrated: the others start on the schema
    cluster.start("executor-a", "executor")
    cluster.wait_log("executor-a", "executor is the leader")
    cluster.start("executor-b", "executor")
    cluster.wait_log("executor-b", "waiting for the leadership")
    # Few slots each, so that both workers take part.
    cluster.start("worker-1", "worker", "--concurrency", "2")
    cluster.start("worker-2", "worker", "--concurrency", "2")
    cluster.wait_log("worker-1", "started")
    cluster.wait_log("worker-2", "started")

    with httpx.Client(base_url=url, auth=(USERNAME, PASSWORD), timeout=30.0) as client:
        deployed = client.post(
            "/api/v1/flows",
            content=FLOW.format(namespace=unique_namespace),
            headers={"Content-Type": "application/x-yaml"},
        )
        assert deployed.status_code == 200, deployed.text

        try:
            first = _trigger(client, unique_namespace, EXECUTIONS)
            ended = wait_for(
                lambda: _all_ended(client, first),
                timeout_s=RECOVERY_TIMEOUT_S,
                what="the first executions to end",
            )
            workers = _check_exactly_once(ended)
            assert len(workers) == 2, workers
            assert "executor is the leader" not in cluster.log_of("executor-b")

            second = _trigger(client, unique_namespace, EXECUTIONS)
            # Mid-run: some of the second batch have started task runs, not all ended.
            wait_for(
                lambda: True if _some_running(client, second) else None,
                timeout_s=RECOVERY_TIMEOUT_S,
                what="the second executions to start",
            )
            cluster.kill("worker-1")
            cluster.kill("executor-a")
            cluster.wait_log("executor-b", "executor is the leader")
            cluster.start("executor-c", "executor")  # the next standby
            cluster.wait_log("executor-c", "waiting for the leadership")
            ended = wait_for(
                lambda: _all_ended(client, second),
                timeout_s=RECOVERY_TIMEOUT_S,
                what="the second executions to end after the kills",
            )
            _check_exactly_once(ended)
            third = _trigger(client, unique_namespace, 3)
            _check_exactly_once(
                wait_for(
                    lambda: _all_ended(client, third),
                    timeout_s=RECOVERY_TIMEOUT_S,
                    what="executions after the takeover",
                )
            )
        except (AssertionError, TimeoutError):
            print(cluster.tails())  # shown by pytest on failure
            raise


def _some_running(client: httpx.Client, ids: list[str]) -> bool:
    response = client.get(f"/api/v1/executions/{ids[-1]}")
    assert response.status_code == 200, response.text
    return response.json()["state"]["current"] in {"RUNNING", *TERMINAL}
