"""Secrets never leak: a real server with Basic auth, an API token, ``SECRET_*`` values, an
encryption key and JSON logs runs flows that use them; then its own log output, every API
answer (bodies and headers, errors included) and the executions' logs are searched for each
configured value (clear and base64). The server's JSON log lines are checked too.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.acceptance.conftest import (
    _SERVER_ENV_DROPPED,
    SERVER_START_TIMEOUT_S,
    _health_probe,
    _server_command,
    _stop,
    die_with_parent,
    free_port,
    wait_for,
)

USER = "leakcheck@lanner.test"
PASSWORD = "pw-LEAKCHECK-basic-7f3a9"
SECRET_VALUE = "sk-LEAKCHECK-secretfn-91b2e"
INPUT_VALUE = "in-LEAKCHECK-input-55cc0"
ENCRYPTION_KEY = "k-LEAKCHECK-aes-key-0123456789ab"  # 32 characters: an AES-256 key
YAML = {"Content-Type": "application/x-yaml"}


@dataclass
class Server:
    url: str
    token: str
    log_path: Path
    seen: list[str] = field(default_factory=list)
    """Every answer the test got: status line, headers and body."""

    def record(self, response: httpx.Response) -> httpx.Response:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.seen.append(
            f"{response.status_code} {response.request.url}\n{headers}\n{response.text}"
        )
        return response


def lanner(*args: str, env: dict[str, str]) -> str:
    script = Path(sys.executable).with_name("lanner")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "lanner.cli.main"]
    done = subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("leaks")
    data_dir = root / "data"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_DROPPED}
    env.update(
        LANNER_BASIC_AUTH_USERNAME=USER,
        LANNER_BASIC_AUTH_PASSWORD=PASSWORD,
        LANNER_ENCRYPTION_KEY=ENCRYPTION_KEY,
        LANNER_LOG_FORMAT="json",
        LANNER_DATA_DIR=str(data_dir),
        SECRET_API_KEY=base64.b64encode(SECRET_VALUE.encode()).decode(),
        PYTHONUNBUFFERED="1",
    )
    token = lanner("admin", "token", "create", "--name", "leakcheck", env=env)
    assert token.startswith("lnr_")
    env.pop("LANNER_DATA_DIR")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            _server_command(port, data_dir),
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        wait_for(_health_probe(url, proc), timeout_s=SERVER_START_TIMEOUT_S, what="/health")
        yield Server(url, token, log_path)
    finally:
        _stop(proc)


def secret_forms() -> dict[str, str]:
    values = {"password": PASSWORD, "secret()": SECRET_VALUE, "SECRET input": INPUT_VALUE,
              "encryption key": ENCRYPTION_KEY}  # fmt: skip
    forms = dict(values)
    for name, value in values.items():
        forms[f"{name} (base64)"] = base64.b64encode(value.encode()).decode()
    forms["basic credentials (base64)"] = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return forms


def flow(namespace: str) -> str:
    return f"""id: leaky
namespace: {namespace}
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: say_input
    type: io.kestra.plugin.core.log.Log
    message: "input is {{{{ inputs.pw }}}}"
  - id: say_secret
    type: io.kestra.plugin.core.log.Log
    message: "secret is {{{{ secret('API_KEY') }}}}"
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "failed with {{{{ secret('API_KEY') }}}} and {{{{ inputs.pw }}}}"
"""


def wait_ended(http: httpx.Client, server: Server, execution_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        body = server.record(http.get(f"/api/v1/executions/{execution_id}")).json()
        if body["state"]["current"] in ("SUCCESS", "FAILED", "KILLED", "WARNING"):
            return dict(body)
        assert time.monotonic() < deadline, body["state"]
        time.sleep(0.2)


def test_no_secret_reaches_logs_answers_or_errors(server: Server) -> None:
    namespace = f"leaks.t{uuid.uuid4().hex[:8]}"
    bearer = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.url, headers=bearer, timeout=30) as http:
        record = server.record
        assert record(http.post("/api/v1/flows", content=flow(namespace), headers=YAML)).is_success
        started = record(
            http.post(f"/api/v1/executions/{namespace}/leaky", files={"pw": (None, INPUT_VALUE)})
        )
        assert started.status_code == 200, started.text
        execution_id = started.json()["id"]
        ended = wait_ended(http, server, execution_id)
        assert ended["state"]["current"] == "FAILED"  # type: ignore[index]
        logs = record(http.get(f"/api/v1/logs/{execution_id}")).json()
        messages = " ".join(line["message"] for line in logs)
        assert "input is" in messages
        assert "secret is" in messages
        assert "failed with" in messages
        assert "******" in messages  # the values were there, masked
        record(http.get(f"/api/v1/logs/{execution_id}/download"))
        record(http.get("/api/v1/executions/search", params={"namespace": namespace}))
        record(http.get(f"/api/v1/outputs/{execution_id}"))
        record(http.get(f"/api/v1/flows/{namespace}/leaky"))
        record(http.get("/api/v1/configs"))
        record(http.get("/metrics"))
        # Errors: bad input, unknown ids, a wrong password and a wrong token.
        record(http.post("/api/v1/flows", content="id: [", headers=YAML))
        record(http.get("/api/v1/executions/nope"))
        record(http.post(f"/api/v1/executions/{namespace}/leaky", files={"other": (None, "x")}))
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        server.record(anonymous.get("/api/v1/flows/search", auth=(USER, PASSWORD + "x")))
        server.record(
            anonymous.get("/api/v1/flows/search", headers={"Authorization": "Bearer lnr_x"})
        )
        basic = server.record(anonymous.get("/api/v1/flows/search", auth=(USER, PASSWORD)))
        assert basic.status_code == 200
    server_log = server.log_path.read_text(errors="replace")
    places = {"server log": server_log, "API answers": "\n".join(server.seen)}
    for place, text in places.items():
        for name, value in secret_forms().items():
            assert value not in text, f"the {name} appears in the {place}"
    assert server.token not in places["API answers"]
    assert server.token not in server_log
    assert server.token[4:] not in server_log


def test_server_log_lines_are_json_when_asked(server: Server) -> None:
    lines = [line for line in server.log_path.read_text().splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(records) == len([line for line in lines if line.startswith("{")])
    assert any("lanner listening" in record["message"] for record in records)
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
    # Everything Lanner itself logs is JSON (a child process's stray text is not ours).
    ours = [line for line in lines if "lanner" in line]
    assert all(line.startswith("{") for line in ours), ours[:3]
