"""SIGTERM while a task runs: the server lets it finish within the grace period, exits 0, and
loses nothing — restarted on the same data, the execution ends SUCCESS with every task run
once — on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from tests.acceptance.conftest import PASSWORD, USERNAME, wait_for
from tests.acceptance.test_crash_recovery import Node, node  # noqa: F401  (the fixture)

GRACE_S = 10.0
"""The server's shutdown grace period (bootstrap.SHUTDOWN_GRACE_S)."""

FLOW = """\
id: graceful
namespace: {namespace}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT2S
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ execution.id }}}}-done"
"""


def test_sigterm_during_a_task_exits_cleanly_and_loses_nothing(
    node: Node,  # noqa: F811
    tmp_path: Path,
) -> None:
    namespace = f"graceful.{tmp_path.name.lower().replace('_', '')[-12:]}"
    auth = (USERNAME, PASSWORD)
    with httpx.Client(base_url=node.url, auth=auth, timeout=30) as http:
        deployed = http.put(
            f"/api/v1/flows/{namespace}/graceful",
            content=FLOW.format(namespace=namespace),
            headers={"Content-Type": "application/x-yaml"},
        )
        assert deployed.status_code == 200, deployed.text
        created = http.post(f"/api/v1/executions/{namespace}/graceful")
        assert created.status_code == 200, created.text
    execution_id = created.json()["id"]

    def execution() -> dict[str, Any]:
        with httpx.Client(base_url=node.url, auth=auth, timeout=30) as http:
            body: dict[str, Any] = http.get(f"/api/v1/executions/{execution_id}").json()
        return body

    def napping() -> bool | None:
        runs = execution().get("taskRunList") or []
        is_running = any(r["taskId"] == "nap" and r["state"]["current"] == "RUNNING" for r in runs)
        return True if is_running else None

    wait_for(napping, timeout_s=60, what="the Sleep task to run")
    assert node.proc is not None
    os.killpg(node.proc.pid, signal.SIGTERM)
    code = node.proc.wait(timeout=GRACE_S)
    assert code == 0, node.log_path.read_text(errors="replace")[-3000:]

    node.start()

    def ended() -> dict[str, Any] | None:
        body = execution()
        return body if body["state"]["current"] in ("SUCCESS", "WARNING", "FAILED") else None

    final = wait_for(ended, timeout_s=60, what="the execution to end", interval_s=0.2)
    assert final["state"]["current"] == "SUCCESS", final
    runs = final["taskRunList"]
    assert Counter(r["taskId"] for r in runs) == Counter({"nap": 1, "last": 1}), runs
    assert runs[-1]["outputs"]["value"] == f"{execution_id}-done"
    for run in runs:
        history = [h["state"] for h in run["state"]["histories"]]
        assert history.count("RUNNING") == 1, history
        assert history[-1] == "SUCCESS", history
