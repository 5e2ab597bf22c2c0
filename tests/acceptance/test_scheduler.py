"""The scheduler as real processes: two ``lanner server scheduler`` on one PostgreSQL make each
tick of a per-second schedule exactly once, also when the lease holder is killed; a ``server
local`` killed and restarted honours ``recoverMissedSchedules`` and neither loses nor repeats a
tick."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.acceptance.conftest import (
    _SERVER_ENV_DROPPED,
    PASSWORD,
    SERVER_START_TIMEOUT_S,
    SERVER_STOP_TIMEOUT_S,
    USERNAME,
    _health_probe,
    _server_command,
    free_port,
    wait_for,
)
from tests.acceptance.test_multi_node import Cluster, _drop_database, _fresh_database

TICKS_TIMEOUT_S = 120.0
LEASE_TTL_S = 10.0

TICKER = """\
id: ticker
namespace: {namespace}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.date }}}}"
triggers:
"""
TRIGGER = """\
  - id: {id}
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
    recoverMissedSchedules: {recover}
"""


def ticker(namespace: str, *recover: str) -> str:
    triggers = "".join(TRIGGER.format(id=mode.lower(), recover=mode) for mode in recover)
    return TICKER.format(namespace=namespace) + triggers


def deploy(client: httpx.Client, source: str) -> None:
    response = client.post(
        "/api/v1/flows", content=source, headers={"Content-Type": "application/x-yaml"}
    )
    assert response.status_code == 200, response.text


def dates_by_trigger(client: httpx.Client, namespace: str) -> dict[str, list[datetime]]:
    found: dict[str, list[datetime]] = {}
    page = 1
    while True:
        response = client.get(
            "/api/v1/executions/search", params={"namespace": namespace, "size": 200, "page": page}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        for execution in body["results"]:
            trigger = execution["trigger"]
            date = datetime.fromisoformat(trigger["variables"]["date"].replace("Z", "+00:00"))
            found.setdefault(trigger["id"], []).append(date)
        if page * 200 >= body["total"]:
            return {key: sorted(value) for key, value in found.items()}
        page += 1


def assert_once_each(dates: list[datetime]) -> None:
    duplicated = [date for date, count in Counter(dates).items() if count > 1]
    assert not duplicated, f"ticks run more than once: {duplicated}"


def assert_contiguous(dates: list[datetime]) -> None:
    gaps = [(a, b) for a, b in itertools.pairwise(dates) if b - a != timedelta(seconds=1)]
    assert not gaps, f"ticks lost between: {gaps}"


# --- two schedulers on PostgreSQL --------------------------------------------------------------


@pytest.fixture
def cluster(acceptance_postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROPPED}
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


def _leader(cluster: Cluster, names: tuple[str, ...]) -> str | None:
    holding = [name for name in names if "holds the lease" in cluster.log_of(name)]
    return holding[0] if holding else None


@pytest.mark.postgres
def test_two_schedulers_make_each_tick_exactly_once(cluster: Cluster) -> None:
    port = free_port()
    cluster.start("api", "api", "--host", "127.0.0.1", "--port", str(port))
    cluster.start("executor", "executor")
    cluster.start("worker", "worker")
    cluster.start("scheduler-a", "scheduler")
    cluster.start("scheduler-b", "scheduler")
    url = f"http://127.0.0.1:{port}"
    wait_for(_health_probe(url, cluster.procs["api"]), timeout_s=SERVER_START_TIMEOUT_S, what="api")
    schedulers = ("scheduler-a", "scheduler-b")
    leader = wait_for(
        lambda: _leader(cluster, schedulers), timeout_s=SERVER_START_TIMEOUT_S, what="a leader"
    )
    standby = next(name for name in schedulers if name != leader)
    namespace = "acceptance.scheduler.pair"
    with httpx.Client(base_url=url, auth=(USERNAME, PASSWORD), timeout=10.0) as client:
        deploy(client, ticker(namespace, "ALL"))

        def ticks_at_least(count: int) -> list[datetime] | None:
            dates = dates_by_trigger(client, namespace).get("all", [])
            return dates if len(dates) >= count else None

        try:
            before = wait_for(lambda: ticks_at_least(5), timeout_s=TICKS_TIMEOUT_S, what="5 ticks")
            cluster.kill(leader)  # kill -9: the standby takes over once the lease expired
            cluster.wait_log(standby, "holds the lease")
            wait_for(
                lambda: ticks_at_least(len(before) + 5),
                timeout_s=TICKS_TIMEOUT_S,
                what="more ticks",
            )
        except TimeoutError:
            pytest.fail(cluster.tails())
        os.killpg(cluster.procs[standby].pid, signal.SIGTERM)
        cluster.procs[standby].wait(timeout=SERVER_STOP_TIMEOUT_S)
        dates = dates_by_trigger(client, namespace)["all"]
    assert_once_each(dates)
    assert_contiguous(dates)  # recoverMissedSchedules ALL: the hand-over lost no tick


# --- a restart of server local -----------------------------------------------------------------


class LocalServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROPPED}
        self.env["PYTHONUNBUFFERED"] = "1"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        data_dir = self.root / "data"
        data_dir.mkdir(exist_ok=True)
        with (self.root / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                _server_command(self.port, data_dir),
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(
            _health_probe(self.url, self.proc), timeout_s=SERVER_START_TIMEOUT_S, what="health"
        )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)

    def log(self) -> str:
        path = self.root / "server.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-40:]) if path.exists() else ""
        )


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalServer]:
    server = LocalServer(tmp_path)
    try:
        yield server
    finally:
        server.kill()


def test_a_restart_honours_recover_missed_schedules(local: LocalServer) -> None:
    namespace = "acceptance.scheduler.restart"
    local.start()
    client = httpx.Client(base_url=local.url, timeout=10.0)

    def each_has(count: int, after: datetime | None = None) -> dict[str, list[datetime]] | None:
        found = dates_by_trigger(client, namespace)
        ready = all(
            len([d for d in found.get(mode, []) if after is None or d > after]) >= count
            for mode in ("all", "last", "none")
        )
        return found if ready else None

    try:
        deploy(client, ticker(namespace, "ALL", "LAST", "NONE"))
        wait_for(lambda: each_has(3), timeout_s=TICKS_TIMEOUT_S, what="3 ticks of each trigger")
        local.kill()
        stopped_at = datetime.now(UTC)
        # Down for a few seconds: those ticks are missed.
        wait_for(
            lambda: True if datetime.now(UTC) > stopped_at + timedelta(seconds=4) else None,
            timeout_s=10.0,
            what="the downtime",
        )
        restarted_at = datetime.now(UTC)
        local.start()
        found = wait_for(
            lambda: each_has(3, after=restarted_at),
            timeout_s=TICKS_TIMEOUT_S,
            what="ticks after the restart",
        )
    except (TimeoutError, RuntimeError):
        pytest.fail(local.log())
    finally:
        client.close()
    for dates in found.values():
        assert_once_each(dates)

    def during_downtime(mode: str) -> list[datetime]:
        return [d for d in found[mode] if stopped_at < d < restarted_at]

    assert_contiguous(found["all"])  # ALL: every missed tick ran, once
    assert during_downtime("all")
    assert during_downtime("none") == []  # NONE: no missed tick ran
    first_after: dict[str, Any] = {
        mode: min(d for d in found[mode] if d > stopped_at) for mode in ("last", "none")
    }
    # LAST runs the latest missed tick; NONE goes on from the next one: one second apart.
    assert first_after["last"] == first_after["none"] - timedelta(seconds=1)
