"""``kestra-ws`` (poll, watch) as a subprocess against a real server, on SQLite and PostgreSQL.

Credentials reach the client through ``KESTRA_USER``/``KESTRA_PASSWORD`` only, as users pass
them; every wait is bounded by a subprocess timeout or a deadline.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from tests.acceptance.conftest import PASSWORD, USERNAME, LannerServer
from tests.acceptance.test_crash_recovery import Node, node  # noqa: F401  (the fixture)

CLI_TIMEOUT_S = 60.0

OK_FLOW = """\
id: {flow_id}
namespace: {namespace}
tasks:
  - id: answer
    type: io.kestra.plugin.core.debug.Return
    format: "forty-{{{{ 40 + 2 }}}}"
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello from {flow_id}"
"""

FAILING_FLOW = """\
id: {flow_id}
namespace: {namespace}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
"""


def ws_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("kestra-ws")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "lanner.cli.ws", *args]


def ws_env(server: LannerServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA_")}
    env["KESTRA_URL"] = server.url
    env["KESTRA_USER"] = server.username
    env["KESTRA_PASSWORD"] = server.password
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_ws(server: LannerServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ws_command(*args),
        env=ws_env(server),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


EVENTS_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "kestra-ws-events.schema.json").read_text()
)
EVENTS = Draft202012Validator(EVENTS_SCHEMA)


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON events of an output, each checked against the documented schema."""
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    for event in events:
        EVENTS.validate(event)
    return events


def deploy(server: LannerServer, template: str, namespace: str) -> str:
    flow_id = f"ws_{uuid.uuid4().hex[:8]}"
    source = template.format(flow_id=flow_id, namespace=namespace)
    response = httpx.post(
        f"{server.url}/api/v1/flows",
        content=source,
        headers={"Content-Type": "application/x-yaml"},
        auth=server.auth,
        timeout=30.0,
    )
    assert response.status_code == 200, response.text
    return flow_id


def start(server: LannerServer, namespace: str, flow_id: str) -> str:
    response = httpx.post(
        f"{server.url}/api/v1/executions/{namespace}/{flow_id}", auth=server.auth, timeout=30.0
    )
    assert response.status_code == 200, response.text
    execution_id: str = response.json()["id"]
    return execution_id


def test_poll_json_reports_states_logs_and_outputs(
    lanner_server: LannerServer, unique_namespace: str
) -> None:
    flow_id = deploy(lanner_server, OK_FLOW, unique_namespace)
    execution_id = start(lanner_server, unique_namespace, flow_id)

    done = run_ws(
        lanner_server, "poll", "--execution-id", execution_id, "--format", "json", "--logs"
    )

    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stdout)
    states = [line for line in lines if line["type"] == "state"]
    assert states, done.stdout
    assert all(line["executionId"] == execution_id for line in states)
    logs = [line for line in lines if line["type"] == "log"]
    assert any(line["message"] == f"hello from {flow_id}" for line in logs), done.stdout
    end = lines[-1]
    assert end["type"] == "end"
    assert end["state"] == "SUCCESS"
    assert end["outputs"]["answer"] == {"value": "forty-42"}
    assert states[-1]["state"] == "SUCCESS"
    assert {run["taskId"] for run in states[-1]["taskRuns"]} == {"answer", "say"}


def test_poll_text_without_logs(lanner_server: LannerServer, unique_namespace: str) -> None:
    flow_id = deploy(lanner_server, OK_FLOW, unique_namespace)
    execution_id = start(lanner_server, unique_namespace, flow_id)

    done = run_ws(lanner_server, "poll", "--execution-id", execution_id, "--no-logs")

    assert done.returncode == 0, done.stderr
    assert f"hello from {flow_id}" not in done.stdout
    assert done.stdout.splitlines()[-1] == f"[end] {execution_id} SUCCESS"


def test_poll_failing_execution_exits_1(lanner_server: LannerServer, unique_namespace: str) -> None:
    flow_id = deploy(lanner_server, FAILING_FLOW, unique_namespace)
    execution_id = start(lanner_server, unique_namespace, flow_id)

    done = run_ws(lanner_server, "poll", "--execution-id", execution_id, "--format", "json")

    assert done.returncode == 1, done.stderr
    end = json_lines(done.stdout)[-1]
    assert end["type"] == "end"
    assert end["state"] == "FAILED"


def test_poll_unknown_execution_exits_2(lanner_server: LannerServer) -> None:
    done = run_ws(lanner_server, "poll", "--execution-id", "doesNotExist42", "--format", "json")

    assert done.returncode == 2
    assert done.stdout == ""
    [error] = json_lines(done.stderr)
    assert error["type"] == "error"
    assert error["status"] == 404


def test_poll_without_credentials_exits_2(lanner_server: LannerServer) -> None:
    env = ws_env(lanner_server)
    del env["KESTRA_PASSWORD"]
    done = subprocess.run(
        ws_command("poll", "--execution-id", "whatever", "--format", "json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )

    assert done.returncode == 2
    assert json_lines(done.stderr)[0]["status"] == 401


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_watch_sees_two_executions_end(lanner_server: LannerServer, unique_namespace: str) -> None:
    flow_id = deploy(lanner_server, OK_FLOW, unique_namespace)
    proc = subprocess.Popen(
        ws_command(
            "watch",
            "--namespace",
            unique_namespace,
            "--count",
            "2",
            "--format",
            "json",
            "--interval",
            "0.2",
        ),
        env=ws_env(lanner_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
        first = lines.get(timeout=CLI_TIMEOUT_S)
        assert first is not None, "watch exited before it started watching"
        assert json.loads(first) == {"type": "watch", "namespace": unique_namespace}

        started = {start(lanner_server, unique_namespace, flow_id) for _ in range(2)}
        assert proc.wait(timeout=CLI_TIMEOUT_S) == 0

        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while (line := lines.get(timeout=max(deadline - time.monotonic(), 0.1))) is not None:
            received.append(json.loads(line))
            EVENTS.validate(received[-1])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=CLI_TIMEOUT_S)

    ended = {line["executionId"] for line in received if line["state"] == "SUCCESS"}
    assert ended == started
    assert all(line["namespace"] == unique_namespace for line in received)
    assert all(line["flowId"] == flow_id for line in received)


# --------------------------------------------------------------------------- reconnection

RESTART_FLOW = """\
id: restartable
namespace: {namespace}
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: [a1, a2, a3]
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
  - id: middle
    type: io.kestra.plugin.core.log.Log
    message: [b1, b2]
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: [c1, c2]
"""
"""Paused after a3 until the test resumes it, so the b and c lines are logged only after the
server came back, whatever the machine's speed."""

RESTART_TIMEOUT_S = 120.0


def node_env(node: Node) -> dict[str, str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA_")}
    env.update(
        KESTRA_URL=node.url, KESTRA_USER=USERNAME, KESTRA_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1"
    )
    return env


def start_restartable(node: Node, namespace: str) -> str:  # noqa: F811
    with httpx.Client(base_url=node.url, auth=(USERNAME, PASSWORD), timeout=30) as http:
        deployed = http.post(
            "/api/v1/flows",
            content=RESTART_FLOW.format(namespace=namespace),
            headers={"Content-Type": "application/x-yaml"},
        )
        assert deployed.status_code == 200, deployed.text
        created = http.post(f"/api/v1/executions/{namespace}/restartable")
        assert created.status_code == 200, created.text
    execution_id: str = created.json()["id"]
    return execution_id


class Poll:
    """``kestra-ws poll --format json`` running in the background, its stdout read live."""

    def __init__(self, node: Node, execution_id: str, *extra: str) -> None:  # noqa: F811
        self.proc = subprocess.Popen(
            ws_command("poll", "--execution-id", execution_id, "--format", "json", *extra),
            env=node_env(node),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=_pump, args=(self.proc.stdout, self.lines), daemon=True).start()

    def wait_for_state(self, state: str) -> None:
        """Read the output until a ``state`` event with ``state``."""
        deadline = time.monotonic() + RESTART_TIMEOUT_S
        while True:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, f"poll ended before {state}: {self.stdout}"
            self.stdout.append(line)
            event = json.loads(line)
            if event["type"] == "state" and event["state"] == state:
                return

    def finish(self) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        code = self.proc.wait(timeout=RESTART_TIMEOUT_S)
        while (line := self.lines.get(timeout=RESTART_TIMEOUT_S)) is not None:
            self.stdout.append(line)
        assert self.proc.stderr is not None
        stderr = self.proc.stderr.read()
        return code, json_lines("".join(self.stdout)), json_lines(stderr)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=CLI_TIMEOUT_S)


def sigterm(node: Node) -> None:  # noqa: F811
    assert node.proc is not None
    os.killpg(node.proc.pid, signal.SIGTERM)  # a graceful stop, as a service manager does
    node.proc.wait(timeout=60)


def line_key(line: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(line.get(key) for key in ("taskRunId", "timestamp", "level", "message"))


@pytest.mark.parametrize("node", ["sqlite"], indirect=True)
def test_poll_survives_a_server_restart_with_every_line_once(node: Node, tmp_path: Path) -> None:  # noqa: F811
    namespace = f"ws.restart.{uuid.uuid4().hex[:8]}"
    execution_id = start_restartable(node, namespace)
    poll = Poll(node, execution_id)
    try:
        poll.wait_for_state("PAUSED")  # following live
        sigterm(node)
        node.start()  # same port, same data directory
        back_at = datetime.now(UTC)
        with httpx.Client(base_url=node.url, auth=(USERNAME, PASSWORD), timeout=30) as http:
            resumed = http.post(f"/api/v1/executions/{execution_id}/resume")
        assert resumed.status_code in (200, 204), resumed.text
        code, events, notices = poll.finish()
    finally:
        poll.kill()

    assert code == 0, (events, notices)
    assert any(n["type"] == "reconnect" for n in notices), notices  # the drop was seen
    assert all(n["type"] == "reconnect" for n in notices), notices
    assert {n["stream"] for n in notices} >= {"execution", "logs"}  # both streams resumed
    end = events[-1]
    assert (end["type"], end["executionId"], end["state"]) == ("end", execution_id, "SUCCESS")
    assert [e for e in events if e["type"] == "state"][-1]["state"] == "SUCCESS"

    with httpx.Client(base_url=node.url, auth=(USERNAME, PASSWORD), timeout=30) as http:
        stored = http.get(f"/api/v1/logs/{execution_id}").json()
    printed = [line_key(e) for e in events if e["type"] == "log"]
    assert len(printed) == len(set(printed)), "a log line was printed twice"
    assert sorted(printed, key=str) == sorted((line_key(line) for line in stored), key=str)
    messages = [e["message"] for e in events if e["type"] == "log"]
    for expected in ("a1", "a2", "a3", "b1", "b2", "c1", "c2"):
        assert messages.count(expected) == 1, messages
    later = [e for e in events if e["type"] == "log" and e["message"] in ("b1", "b2", "c1", "c2")]
    assert all(datetime.fromisoformat(e["timestamp"]) > back_at for e in later)  # after the restart
    assert "a3" in messages[: messages.index("b1")]


@pytest.mark.parametrize("node", ["sqlite"], indirect=True)
def test_poll_gives_up_after_its_retries_with_a_clear_error(node: Node) -> None:  # noqa: F811
    namespace = f"ws.giveup.{uuid.uuid4().hex[:8]}"
    execution_id = start_restartable(node, namespace)
    poll = Poll(node, execution_id, "--retries", "2")
    try:
        poll.wait_for_state("PAUSED")
        sigterm(node)
        code, events, notices = poll.finish()
    finally:
        poll.kill()

    assert code == 2
    assert events[-1]["type"] != "end"
    *retries, error = notices
    assert [n["attempt"] for n in retries if n["stream"] == "execution"] == [1, 2], notices
    assert error["type"] == "error"
    assert error["status"] is None
    assert error["message"].startswith("gave up after 2 reconnection attempts")


def test_the_event_schema_is_valid_json_schema() -> None:
    Draft202012Validator.check_schema(EVENTS_SCHEMA)
    assert set(EVENTS_SCHEMA["$defs"]) >= {"state", "log", "end", "watch", "reconnect", "error"}
