"""The reference's webhook example against a real server with basic auth on: `curl -X POST
.../executions/webhook/<ns>/my-flow/my-secret-key` with no credentials starts the flow, whose
task reads `{{ trigger.body.x }}`; a wrong key is a 404."""

from __future__ import annotations

import json
import subprocess
import time
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from conftest import LannerServer

DEADLINE_S = 60.0

FLOW = """\
id: my-flow
namespace: {ns}
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "x is {{{{ trigger.body.x }}}}"
triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: my-secret-key
"""


def curl_post(curl_bin: str, url: str, body: str) -> tuple[int, Any]:
    done = subprocess.run(
        [curl_bin, "-sS", "-X", "POST", "-H", "Content-Type: application/json",
         "-d", body, "-w", "\n%{http_code}", url],
        capture_output=True, text=True, timeout=DEADLINE_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(text)


def test_webhook_without_credentials_runs_the_flow(
    lanner_server: LannerServer, unique_namespace: str, curl_bin: str
) -> None:
    ns = unique_namespace
    with httpx.Client(base_url=lanner_server.url, auth=lanner_server.auth, timeout=30) as api:
        deployed = api.post(
            "/api/v1/flows",
            content=FLOW.format(ns=ns),
            headers={"Content-Type": "application/x-yaml"},
        )
        assert deployed.status_code == 200, deployed.text
        assert httpx.get(f"{lanner_server.url}/api/v1/flows/{ns}/my-flow").status_code == 401

        base = f"{lanner_server.url}/api/v1/executions/webhook/{ns}/my-flow"
        status, created = curl_post(curl_bin, f"{base}/my-secret-key", '{"x": "from curl"}')
        assert status == 200, created
        assert created["trigger"]["variables"]["body"] == {"x": "from curl"}

        deadline = time.monotonic() + DEADLINE_S
        while True:
            execution = api.get(f"/api/v1/executions/{created['id']}").json()
            if execution["state"]["current"] in ("SUCCESS", "FAILED", "KILLED", "WARNING"):
                break
            assert time.monotonic() < deadline, execution["state"]["current"]
            time.sleep(0.1)
        assert execution["state"]["current"] == "SUCCESS", lanner_server.log_tail()
        [run] = execution["taskRunList"]
        assert run["outputs"] == {"value": "x is from curl"}

        status, refused = curl_post(curl_bin, f"{base}/wrong-key", "{}")
        assert status == 404
        assert refused["message"] == "Not Found: Webhook not found"
