"""An execution accepted by the API survives a crash: kill -9 the server in the middle of 100
running executions, restart it on the same data, and every one finishes exactly once with a
consistent history — on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.acceptance.conftest import (
    _SERVER_ENV_DROPPED,
    PASSWORD,
    USERNAME,
    _server_command,
    die_with_parent,
    free_port,
    wait_for,
)

EXECUTIONS = 100
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"}

FLOW = """\
id: crash
namespace: {namespace}
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ execution.id }}}}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.3S
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.first.value }}}}-done"
"""


@dataclass
class Node:
    """One `lanner server local` process that the test may crash and restart."""

    data_dir: Path
    env: dict[str, str]
    log_path: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                _server_command(self.port, self.data_dir),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        proc = self.proc

        def healthy() -> bool | None:
            assert proc.poll() is None, self.log_path.read_text(errors="replace")[-3000:]
            try:
                return (
                    True if httpx.get(self.url + "/health", timeout=2).status_code == 200 else None
                )
            except httpx.TransportError:
                return None

        wait_for(healthy, timeout_s=60, what="server health")

    def crash(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROPPED}
    env["LANNER_BASIC_AUTH_USERNAME"] = USERNAME
    env["LANNER_BASIC_AUTH_PASSWORD"] = PASSWORD
    if request.param == "postgres":
        env["LANNER_DATABASE_URL"] = request.getfixturevalue("own_postgres_url")
    server = Node(tmp_path / "data", env, tmp_path / "server.log", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_kill_9_in_the_middle_then_restart_finishes_everything(node: Node, tmp_path: Path) -> None:
    namespace = f"crash.{tmp_path.name.lower().replace('_', '')[-12:]}"
    auth = (USERNAME, PASSWORD)
    with httpx.Client(base_url=node.url, auth=auth, timeout=30) as http:
        deployed = http.put(
            f"/api/v1/flows/{namespace}/crash",
            content=FLOW.format(namespace=namespace),
            headers={"Content-Type": "application/x-yaml"},
        )
        assert deployed.status_code == 200, deployed.text
        ids = []
        for _ in range(EXECUTIONS):
            created = http.post(f"/api/v1/executions/{namespace}/crash")
            assert created.status_code == 200, created.text
            ids.append(created.json()["id"])

    def some_started() -> bool | None:
        with httpx.Client(base_url=node.url, auth=auth, timeout=30) as http:
            page = http.get(
                "/api/v1/executions/search",
                params={"namespace": namespace, "state": "RUNNING", "size": 1},
            )
        return True if page.json()["total"] > 0 else None

    wait_for(some_started, timeout_s=60, what="executions to be running")
    node.crash()
    node.start()

    def all_terminal() -> list[dict[str, object]] | None:
        with httpx.Client(base_url=node.url, auth=auth, timeout=30) as http:
            found = [http.get(f"/api/v1/executions/{i}").json() for i in ids]
        states = [e["state"]["current"] for e in found]
        return found if all(s in TERMINAL for s in states) else None

    executions = wait_for(all_terminal, timeout_s=240, what="all executions to end", interval_s=1)

    with httpx.Client(base_url=node.url, auth=auth, timeout=30) as http:
        listed = http.get("/api/v1/executions/search", params={"namespace": namespace, "size": 500})
    assert listed.json()["total"] == EXECUTIONS, "no execution lost or duplicated"

    for execution in executions:
        assert execution["state"]["current"] == "SUCCESS", execution
        runs = execution["taskRunList"]
        assert [r["taskId"] for r in runs] == ["first", "nap", "last"], runs
        assert Counter(r["taskId"] for r in runs) == Counter({"first": 1, "nap": 1, "last": 1})
        last = runs[-1]
        assert last["outputs"]["value"] == f"{execution['id']}-done"
        for run in runs:
            history = [h["state"] for h in run["state"]["histories"]]
            assert history[0] == "CREATED", history
            assert history[-1] == "SUCCESS", history
            assert history.count("SUCCESS") == 1, history
        execution_history = [h["state"] for h in execution["state"]["histories"]]
        assert execution_history[0] == "CREATED"
        assert execution_history[-1] == "SUCCESS"
        assert execution_history.count("SUCCESS") == 1
