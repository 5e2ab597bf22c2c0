"""``kestra-ws`` (poll, watch) as a subprocess against a real server, on SQLite and PostgreSQL.

Credentials reach the client through ``KESTRA_USER``/``KESTRA_PASSWORD`` only, as users pass
them; every wait is bounded by a subprocess timeout or a deadline.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

import httpx
from tests.acceptance.conftest import LannerServer

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


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


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
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=CLI_TIMEOUT_S)

    ended = {line["executionId"] for line in received if line["state"] == "SUCCESS"}
    assert ended == started
    assert all(line["namespace"] == unique_namespace for line in received)
    assert all(line["flowId"] == flow_id for line in received)
