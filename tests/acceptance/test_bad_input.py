"""Issue 16 against a real server: YAML bombs are refused while /health keeps answering, and
the server's memory stays where it was.

A thread polls ``/health`` while the test posts the issue's 1 KB "billion laughs" flow (and a
200 KB deeply nested one, which used to overflow libyaml's C stack) again and again: every bomb
gets a 4xx naming its limit, every health probe answers 200 meanwhile, and the process's RSS
(``/proc/<pid>/status`` VmRSS) after is within 50 MB of before.
"""

from __future__ import annotations

import itertools
import sys
import threading
from pathlib import Path

import httpx
import pytest
from tests.acceptance.conftest import PASSWORD, USERNAME
from tests.acceptance.test_crash_recovery import Node, node  # noqa: F401  (the fixture)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status"
)

YAML = {"Content-Type": "application/x-yaml"}
ROUNDS = 20
RSS_SLACK_KB = 50 * 1024


def alias_bomb(namespace: str) -> str:
    lines = [f"id: bomb\nnamespace: {namespace}\ntasks: []"]
    lines.append('a: &a ["x","x","x","x","x","x","x","x","x"]')
    names = "abcdefghij"
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def deep_bomb(namespace: str) -> str:
    return f"id: deep\nnamespace: {namespace}\ntasks: []\nvariables: {'[' * 100_000}\n"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


class HealthPoller(threading.Thread):
    """Polls /health until stopped; records every answer (or the error instead)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[int | str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5.0) as http:
            while not self.stopping.is_set():
                try:
                    self.answers.append(http.get("/health").status_code)
                except httpx.HTTPError as exc:
                    self.answers.append(type(exc).__name__)
                self.stopping.wait(0.02)


def test_bombs_are_refused_while_health_answers_and_memory_stays_put(
    node: Node,  # noqa: F811
    tmp_path: Path,
) -> None:
    assert node.proc is not None
    pid = node.proc.pid
    namespace = f"bombs.{tmp_path.name.lower().replace('_', '')[-12:]}"
    with httpx.Client(base_url=node.url, auth=(USERNAME, PASSWORD), timeout=30) as http:
        fine = f"id: fine\nnamespace: {namespace}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        assert http.post("/api/v1/flows", content=fine, headers=YAML).status_code == 200
        assert http.post("/api/v1/flows/validate", content=fine, headers=YAML).status_code == 200
        before = rss_kb(pid)

        poller = HealthPoller(node.url)
        poller.start()
        try:
            for _ in range(ROUNDS):
                answered = http.post("/api/v1/flows", content=alias_bomb(namespace), headers=YAML)
                assert answered.status_code == 422, answered.text
                assert "yaml-max-aliases" in answered.json()["message"]
                bulk = http.post("/api/v1/flows/bulk", content=alias_bomb(namespace), headers=YAML)
                assert bulk.status_code == 422, bulk.text
                deep = http.post("/api/v1/flows", content=deep_bomb(namespace), headers=YAML)
                assert deep.status_code == 422, deep.text
                assert "yaml-max-depth" in deep.json()["message"]
                during = len(poller.answers)
        finally:
            poller.stopping.set()
            poller.join(timeout=10)

        assert node.proc.poll() is None, "the server must still run"
        assert during >= 1, "/health must have answered while bombs were being refused"
        assert set(poller.answers) == {200}, poller.answers
        assert http.get(f"/api/v1/flows/{namespace}/bomb").status_code == 404
        after = rss_kb(pid)
    print(f"RSS {before} kB -> {after} kB")
    assert after - before <= RSS_SLACK_KB, f"RSS grew from {before} kB to {after} kB"
