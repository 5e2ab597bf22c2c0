"""SIGTERM while clients follow a paused execution and its logs: both streams end cleanly (a
complete chunked body, no cut connection) and the server exits 0 without holding the grace."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import httpx
from tests.acceptance.conftest import PASSWORD, USERNAME, wait_for
from tests.acceptance.test_crash_recovery import Node, node  # noqa: F401  (the fixture)

GRACE_S = 10.0
"""The server's shutdown grace period (bootstrap.SHUTDOWN_GRACE_S)."""

FLOW = """\
id: paused
namespace: {namespace}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: before the pause
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


class Follower(threading.Thread):
    """Reads one SSE stream to its end; remembers the lines and how it ended."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.lines: list[str] = []
        self.error: BaseException | None = None
        self.ended = False

    def run(self) -> None:
        try:
            with (
                httpx.Client(auth=(USERNAME, PASSWORD), timeout=60) as http,
                http.stream("GET", self.url) as response,
            ):
                for line in response.iter_lines():
                    self.lines.append(line)
            self.ended = True
        except BaseException as error:
            self.error = error


def test_sigterm_ends_follow_streams_cleanly(node: Node, tmp_path: Path) -> None:  # noqa: F811
    namespace = f"follow.{tmp_path.name.lower().replace('_', '')[-12:]}"
    with httpx.Client(base_url=node.url, auth=(USERNAME, PASSWORD), timeout=30) as http:
        deployed = http.put(
            f"/api/v1/flows/{namespace}/paused",
            content=FLOW.format(namespace=namespace),
            headers={"Content-Type": "application/x-yaml"},
        )
        assert deployed.status_code == 200, deployed.text
        execution_id = http.post(f"/api/v1/executions/{namespace}/paused").json()["id"]

        def paused() -> bool | None:
            body: dict[str, Any] = http.get(f"/api/v1/executions/{execution_id}").json()
            return True if body["state"]["current"] == "PAUSED" else None

        wait_for(paused, timeout_s=60, what="the execution to pause")
    followers = [
        Follower(f"{node.url}/api/v1/executions/{execution_id}/follow"),
        Follower(f"{node.url}/api/v1/logs/{execution_id}/follow"),
    ]
    for follower in followers:
        follower.start()
    wait_for(
        lambda: True if all(f.lines for f in followers) else None,
        timeout_s=30,
        what="both streams to send their first frames",
    )
    assert node.proc is not None
    os.killpg(node.proc.pid, signal.SIGTERM)
    code = node.proc.wait(timeout=GRACE_S * 3)
    log = node.log_path.read_text(errors="replace")
    assert code == 0, log[-3000:]
    for follower in followers:
        follower.join(timeout=GRACE_S)
        assert follower.error is None, f"{follower.url}: {follower.error!r}"
        assert follower.ended
    assert "id: start" in followers[0].lines
    assert "id: end" not in followers[0].lines
    assert any("before the pause" in line for line in followers[1].lines)
    assert "timeout graceful shutdown exceeded" not in log
