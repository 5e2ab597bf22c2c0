"""A 5-process cluster (1 ``api``, 2 ``executor``, 2 ``worker``) on a PostgreSQL database of
its own, under a steady stream of short executions, while every backend of that database is
terminated 10 times (``pg_terminate_backend``: each process loses every connection at once,
the database itself stays up). Every execution ends SUCCESS exactly once (one run per task,
one log line per task run), none is left waiting (each ends within 10 s of the database's
return, a correctness bound: nothing stuck until a fixed scan or a restart), and the
processes are the same ones throughout. Each executor and one worker serve ``GET /health`` on
their ``--health-port`` (role, leadership, store, queue depth and leases).

Then worker loss: kill -9 of the worker running a 5 s Sleep; the leader ends its lease at the
expiry, the task runs again on the other worker, the execution ends SUCCESS within lease + 5 s
of the kill (the lease's end, at most a lease after the kill, + the Sleep + a second of
hand-offs), and both attempts are in the task run (the lost one RESUBMITTED, as Kestra's
``onRunningResend``, with the worker that had it)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tests.acceptance.conftest import (
    _SERVER_ENV_DROPPED,
    PASSWORD,
    USERNAME,
    _admin_conninfo,
    _with_database,
    free_port,
    wait_for,
)
from tests.acceptance.test_multi_node import Cluster, _lanner

pytestmark = pytest.mark.postgres

TERMINATIONS = 10
TERMINATION_GAP_S = 0.6
LOAD_GAP_S = 0.05
STUCK_BOUND_S = 10.0
LEASE_S = 10.0  # the default lease (not configured here)
HANDOFF_S = 1.0  # claims, reports and the decision through the database, on a busy machine
SETTLE_TIMEOUT_S = 120.0

FLOW = """\
id: steady
namespace: {namespace}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ execution.id }}}}"
  - id: value
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ execution.id }}}}"
"""

SLEEPY = """\
id: sleepy
namespace: {namespace}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5S
"""


@dataclass
class Nodes(Cluster):
    """The cluster and its api's URL."""

    url: str = ""
    health: dict[str, int] = field(default_factory=dict)  # node name → its health port


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh database of this test's own (``test_cluster_<n>``), dropped afterwards."""
    import psycopg

    base_url = os.environ.get("LANNER_TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip("LANNER_TEST_POSTGRES_URL is not set")
    name = f"test_cluster_{uuid.uuid4().hex[:8]}"
    admin = _admin_conninfo(base_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(base_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            _terminate(conn, name)
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="module")
def cluster(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    """One cluster for the module (its start costs most of the time): the database test runs
    first (same processes throughout), then the worker-loss test kills a worker."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROPPED}
    env["LANNER_DATABASE_URL"] = database
    env["LANNER_BASIC_AUTH_USERNAME"] = USERNAME
    env["LANNER_BASIC_AUTH_PASSWORD"] = PASSWORD
    env["PYTHONUNBUFFERED"] = "1"
    nodes = Nodes(tmp_path_factory.mktemp("cluster"), env)
    try:
        nodes.url = _start_cluster(nodes)
        yield nodes
    finally:
        nodes.stop_all()


def _terminate(conn: Any, name: str) -> int:
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    ).fetchall()
    return len(rows)


def _start_cluster(cluster: Nodes, workers: int = 2) -> str:
    port = free_port()
    cluster.start("api", "api", "--host", "127.0.0.1", "--port", str(port))
    cluster.wait_log("api", "lanner listening on")  # migrated: the others start on the schema
    for name in ("executor-a", "executor-b"):
        cluster.health[name] = free_port()
        cluster.start(name, "executor", "--health-port", str(cluster.health[name]))
    cluster.health["worker-1"] = free_port()
    cluster.start(
        "worker-1", "worker", "--concurrency", "8", "--health-port", str(cluster.health["worker-1"])
    )
    for n in range(2, workers + 1):
        cluster.start(f"worker-{n}", "worker", "--concurrency", "8")
    for name in ("executor-a", "executor-b"):
        cluster.wait_log(name, "executor started")
    for n in range(1, workers + 1):
        cluster.wait_log(f"worker-{n}", "started")
    wait_for(
        lambda: True if "executor is the leader" in _executor_logs(cluster) else None,
        timeout_s=30.0,
        what="an executor to lead",
    )
    return f"http://127.0.0.1:{port}"


def _executor_logs(cluster: Cluster) -> str:
    return cluster.log_of("executor-a") + cluster.log_of("executor-b")


def _deploy(client: httpx.Client, source: str) -> None:
    response = client.post(
        "/api/v1/flows", content=source, headers={"Content-Type": "application/x-yaml"}
    )
    assert response.status_code == 200, response.text


class Load:
    """A steady stream of executions from a thread; answers lost in an outage are tolerated
    (the database is the judge of what was created)."""

    def __init__(self, url: str, namespace: str) -> None:
        self.accepted: list[str] = []
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, namespace), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self, url: str, namespace: str) -> None:
        with httpx.Client(base_url=url, auth=(USERNAME, PASSWORD), timeout=10.0) as client:
            while not self._stop.is_set():
                try:
                    response = client.post(f"/api/v1/executions/{namespace}/steady")
                except httpx.TransportError:
                    self.refused += 1
                else:
                    if response.status_code == 200:
                        self.accepted.append(response.json()["id"])
                    else:
                        assert response.status_code == 503, response.text  # never a 500
                        self.refused += 1
                self._stop.wait(LOAD_GAP_S)


def _settled(conn: Any, namespace: str) -> list[tuple[Any, ...]] | None:
    rows: list[tuple[Any, ...]] = conn.execute(
        "SELECT id, state, start_date, end_date FROM executions WHERE namespace = %s",
        (namespace,),
    ).fetchall()
    if any(row[1] in ("CREATED", "QUEUED", "RUNNING") for row in rows):
        return None
    return rows


def test_every_execution_ends_once_while_the_database_drops_every_connection(
    cluster: Nodes, database: str, unique_namespace: str
) -> None:
    import psycopg

    url = cluster.url
    pids = {name: proc.pid for name, proc in cluster.procs.items()}
    name = database.rsplit("/", 1)[1]
    admin = _admin_conninfo(os.environ["LANNER_TEST_POSTGRES_URL"])
    with httpx.Client(base_url=url, auth=(USERNAME, PASSWORD), timeout=30.0) as client:
        _deploy(client, FLOW.format(namespace=unique_namespace))
    load = Load(url, unique_namespace)
    load.start()
    try:
        time.sleep(1.0)  # some executions in flight before the first cut
        terminated = []
        with psycopg.connect(admin, autocommit=True) as conn:
            for _ in range(TERMINATIONS):
                terminated.append(_terminate(conn, name))
                time.sleep(TERMINATION_GAP_S)
            # The last cut: from here on the database is back for good.
            terminated.append(_terminate(conn, name))
            back = datetime.now(UTC)
        time.sleep(1.0)  # and new executions after it
    finally:
        load.stop()
    assert all(count > 0 for count in terminated), terminated  # the nodes were connected

    try:
        with psycopg.connect(_admin_conninfo(database), autocommit=True) as conn:
            rows = wait_for(
                lambda: _settled(conn, unique_namespace),
                timeout_s=SETTLE_TIMEOUT_S,
                what="every execution to end",
            )
            runs = conn.execute(
                "SELECT r.execution_id, r.task_id, r.state, r.attempts FROM task_runs r "
                "JOIN executions e ON e.id = r.execution_id WHERE e.namespace = %s",
                (unique_namespace,),
            ).fetchall()
            lines = conn.execute(
                "SELECT execution_id, message FROM logs WHERE namespace = %s AND task_id = 'hello' "
                "AND message LIKE 'hello %%'",
                (unique_namespace,),
            ).fetchall()
    except (AssertionError, TimeoutError):
        print(cluster.tails())
        raise

    ids = {row[0] for row in rows}
    assert len(load.accepted) >= 20, (len(load.accepted), load.refused)
    assert set(load.accepted) <= ids  # every accepted execution exists
    assert all(row[1] == "SUCCESS" for row in rows), [r for r in rows if r[1] != "SUCCESS"]
    by_execution: dict[str, list[str]] = {}
    for execution_id, task_id, state, _attempts in runs:
        assert state == "SUCCESS", (execution_id, task_id, state)
        by_execution.setdefault(execution_id, []).append(task_id)
    assert {k: sorted(v) for k, v in by_execution.items()} == {
        execution_id: ["hello", "value"] for execution_id in ids
    }
    logged: dict[str, int] = {}
    for execution_id, message in lines:
        assert message == f"hello {execution_id}"
        logged[execution_id] = logged.get(execution_id, 0) + 1
    duplicated = {k: v for k, v in logged.items() if v != 1}
    assert not duplicated, duplicated
    assert set(logged) == ids, ids - set(logged)
    # Nothing stuck: each execution ends within the bound of the database's return (or of
    # its own start, for those started after it).
    late = [
        (execution_id, (end - max(start, back)).total_seconds())
        for execution_id, _state, start, end in rows
        if (end - max(start, back)).total_seconds() > STUCK_BOUND_S
    ]
    assert not late, late
    # The same processes throughout: none exited, none was restarted.
    assert {name: proc.pid for name, proc in cluster.procs.items()} == pids
    assert all(proc.poll() is None for proc in cluster.procs.values()), cluster.tails()
    for node in cluster.procs:
        assert "Task exception was never retrieved" not in cluster.log_of(node), node
    print(
        f"{len(ids)} executions, {len(load.accepted)} accepted, {load.refused} refused, "
        f"terminated {terminated}, slowest after the return "
        f"{max((end - max(start, back)).total_seconds() for _, _, start, end in rows):.2f} s"
    )


def test_the_roles_serve_health_and_show_in_cluster_status(cluster: Nodes) -> None:
    bodies = {}
    for name, port in cluster.health.items():
        response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10.0)
        assert response.status_code == 200, (name, response.text)
        bodies[name] = response.json()
        assert bodies[name]["pid"] == cluster.procs[name].pid
        assert bodies[name]["store"] == {"status": "UP"}
        assert set(bodies[name]["jobs"]) == {"queued", "running"}
    assert sorted(bodies[name]["leader"] for name in ("executor-a", "executor-b")) == [False, True]
    worker = bodies["worker-1"]
    assert worker["role"] == "worker"
    assert (worker["worker"]["concurrency"], worker["worker"]["leaseSeconds"]) == (8, LEASE_S)

    # ``lanner cluster status``: every node from the database, the leader marked.
    shown = subprocess.run(
        _lanner("cluster", "status"), env=cluster.env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines()[1:-1]]
    by_pid = {int(row[2]): row for row in rows}
    for name, proc in cluster.procs.items():
        assert by_pid[proc.pid][0] == name.split("-")[0], (name, shown.stdout)
    leaders = [row for row in rows if row[3] == "yes"]
    assert [(row[0], int(row[2])) for row in leaders] == [
        ("executor", next(b["pid"] for b in bodies.values() if b.get("leader")))
    ]


def _running_job(conn: Any, execution_id: str) -> tuple[str, datetime] | None:
    row = conn.execute(
        "SELECT worker_id, heartbeat_at FROM jobs WHERE execution_id = %s AND status = 'RUNNING'",
        (execution_id,),
    ).fetchone()
    return (row[0], row[1]) if row is not None else None


def test_a_killed_workers_task_runs_again_at_its_lease_end(
    cluster: Nodes, database: str, unique_namespace: str
) -> None:
    import psycopg

    url = cluster.url
    pids = {proc.pid: name for name, proc in cluster.procs.items() if name.startswith("worker")}
    with (
        httpx.Client(base_url=url, auth=(USERNAME, PASSWORD), timeout=30.0) as client,
        psycopg.connect(_admin_conninfo(database), autocommit=True) as conn,
    ):
        _deploy(client, SLEEPY.format(namespace=unique_namespace))
        response = client.post(f"/api/v1/executions/{unique_namespace}/sleepy")
        assert response.status_code == 200, response.text
        execution_id = response.json()["id"]
        worker_id, claimed = wait_for(
            lambda: _running_job(conn, execution_id), timeout_s=30.0, what="the Sleep to start"
        )
        victim = pids[int(worker_id.rsplit("-", 1)[1])]
        time.sleep(max(1.0 - (datetime.now(UTC) - claimed).total_seconds(), 0.0))  # mid-Sleep
        cluster.kill(victim)
        killed = time.monotonic()
        killed_at = datetime.now(UTC)
        # The dead worker's lease as it stands: its last heartbeat + the lease.
        (lease_end,) = conn.execute(
            "SELECT lease_expires_at FROM jobs WHERE execution_id = %s", (execution_id,)
        ).fetchone()

        def ended() -> dict[str, Any] | None:
            body: dict[str, Any] = client.get(f"/api/v1/executions/{execution_id}").json()
            return body if body["state"]["current"] in ("SUCCESS", "FAILED", "KILLED") else None

        try:
            body = wait_for(ended, timeout_s=LEASE_S + 30.0, what="the execution to end")
        except TimeoutError:
            print(cluster.tails())
            raise
        took = time.monotonic() - killed

    assert body["state"]["current"] == "SUCCESS", body["state"]
    (run,) = body["taskRunList"]
    assert run["state"]["current"] == "SUCCESS"
    lost, second = run["attempts"]
    assert lost["state"]["current"] == "RESUBMITTED"
    assert lost["workerId"] == worker_id
    assert second["state"]["current"] == "SUCCESS"
    assert second["workerId"] not in (None, worker_id)
    # A correctness bound, not a benchmark: back at the lease's end, not at a later scan.
    timeline = {
        "leaseEnd": lease_end.isoformat(),
        "expired": lost["state"]["histories"][-1]["date"],
        "rerun": second["state"]["histories"][0]["date"],
        "ended": body["state"]["histories"][-1]["date"],
        "killed": killed_at.isoformat(),
    }
    # The lease ends at most a lease after the kill (the last heartbeat was before it); the
    # task runs again right then (not at a later scan), so the execution ends within the
    # lease + the 5 s Sleep, give or take the hand-offs through the database.
    left_s = (lease_end - killed_at).total_seconds()
    assert left_s <= LEASE_S, timeline
    assert took <= left_s + 5.0 + HANDOFF_S, (took, timeline)
    print(f"ended {took:.2f} s after the kill (lease {LEASE_S:.0f} s + 5 s Sleep): {timeline}")
