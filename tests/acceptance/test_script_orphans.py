"""No orphans, ever: a server (its worker) killed with SIGKILL while a script runs leaves no
process of the script behind — its background and foreground children die with it, found by a
unique marker in their command lines."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.acceptance.conftest import (
    _SERVER_ENV_DROPPED,
    PASSWORD,
    USERNAME,
    free_port,
    wait_for,
)
from tests.acceptance.test_crash_recovery import Node

FLOW = """\
id: orphans
namespace: {namespace}
tasks:
  - id: slow
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - python3 -c 'import time; time.sleep(60)' {marker} &
      - sh -c 'sleep 60; echo {marker}' &
      - echo started
      - python3 -c 'import time; time.sleep(60)' {marker}
"""


def marked(marker: str) -> list[int]:
    """Pids of live processes whose command line holds ``marker`` (``ps`` would show them)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROPPED}
    env["LANNER_BASIC_AUTH_USERNAME"] = USERNAME
    env["LANNER_BASIC_AUTH_PASSWORD"] = PASSWORD
    server = Node(tmp_path / "data", env, tmp_path / "server.log", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_killed_worker_leaves_no_script_process_behind(node: Node, tmp_path: Path) -> None:
    marker = f"lanner-orphan-{uuid.uuid4().hex}"
    namespace = f"orphans.t{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=node.url, auth=(USERNAME, PASSWORD), timeout=30) as http:
        deployed = http.put(
            f"/api/v1/flows/{namespace}/orphans",
            content=FLOW.format(namespace=namespace, marker=marker),
            headers={"Content-Type": "application/x-yaml"},
        )
        if deployed.status_code == 404:
            deployed = http.post(
                "/api/v1/flows",
                content=FLOW.format(namespace=namespace, marker=marker),
                headers={"Content-Type": "application/x-yaml"},
            )
        assert deployed.status_code == 200, deployed.text
        created = http.post(f"/api/v1/executions/{namespace}/orphans")
        assert created.status_code == 200, created.text
    wait_for(lambda: len(marked(marker)) >= 3 or None, timeout_s=30, what="the script's processes")
    assert node.proc is not None
    os.kill(node.proc.pid, signal.SIGKILL)  # the server alone: its children get no signal
    node.proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked(marker) == [], "processes left behind by the killed worker"
