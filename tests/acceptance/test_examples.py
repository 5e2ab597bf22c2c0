"""``examples/``: every flow deploys on a real server as it is, and the runnable ones succeed.

Layout: ``examples/<namespace>/<flow id>.yaml``. The scheduled flow is only deployed here (its
trigger fires on its cron); the webhook flow is started through its webhook URL.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import yaml
from tests.acceptance.conftest import REPO_ROOT, LannerServer, wait_for

SQLITE_ONLY = pytest.mark.parametrize("lanner_server", ["sqlite"], indirect=True)
"""The examples exercise flows, not the store: one backend is enough."""

EXAMPLES = REPO_ROOT / "examples"
FLOW_FILES = sorted(EXAMPLES.glob("*/*.yaml"))
TIMEOUT_S = 60.0
TERMINAL = ("SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED")


def deploy_all(http: httpx.Client) -> None:
    for path in FLOW_FILES:
        flow = yaml.safe_load(path.read_text())
        headers = {"Content-Type": "application/x-yaml"}
        url = f"/api/v1/flows/{flow['namespace']}/{flow['id']}"
        if http.get(url).status_code == 200:
            response = http.put(url, content=path.read_bytes(), headers=headers)
        else:
            response = http.post("/api/v1/flows", content=path.read_bytes(), headers=headers)
        assert response.status_code == 200, f"{path}: {response.text}"


@pytest.fixture
def http(lanner_server: LannerServer) -> httpx.Client:
    client = httpx.Client(base_url=lanner_server.url, auth=lanner_server.auth, timeout=30.0)
    deploy_all(client)
    return client


def ended(http: httpx.Client, execution_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/api/v1/executions/{execution_id}").json()
        return body if body["state"]["current"] in TERMINAL else None

    return wait_for(probe, timeout_s=TIMEOUT_S, what=f"execution {execution_id} to end")


def run(http: httpx.Client, namespace: str, flow_id: str, **form: Any) -> dict[str, Any]:
    response = http.post(f"/api/v1/executions/{namespace}/{flow_id}", **form)
    assert response.status_code == 200, response.text
    return ended(http, response.json()["id"])


def outputs_of(execution: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return [r.get("outputs") or {} for r in execution["taskRunList"] if r["taskId"] == task_id]


def test_examples_are_laid_out_by_namespace_and_id() -> None:
    assert len(FLOW_FILES) >= 6
    for path in FLOW_FILES:
        flow = yaml.safe_load(path.read_text())
        assert (flow["namespace"], flow["id"]) == (path.parent.name, path.stem), path


@SQLITE_ONLY
def test_every_example_deploys_and_lists(http: httpx.Client) -> None:
    for namespace in {path.parent.name for path in FLOW_FILES}:
        listed = http.get(f"/api/v1/flows/{namespace}")
        assert listed.status_code == 200, listed.text
        ids = {flow["id"] for flow in listed.json()}
        assert ids >= {p.stem for p in FLOW_FILES if p.parent.name == namespace}
    schedule = http.get("/api/v1/flows/tutorial/schedule").json()
    assert schedule["triggers"][0]["type"] == "io.kestra.plugin.core.trigger.Schedule"


@SQLITE_ONLY
def test_contract_loop_passes_after_three_rounds(http: httpx.Client) -> None:
    done = run(http, "bitter", "contract-loop", data={"contract": "/path/to/contract.yaml"})
    assert done["state"]["current"] == "SUCCESS", done
    assert outputs_of(done, "rounds") == [{"iterationCount": 3}]
    assert [o["vars"]["passed"] for o in outputs_of(done, "check")] == [False, False, True]
    assert done["outputs"]["contract"].splitlines()[0] == "contract: contract"
    assert done["outputs"]["contract"].count("  - clause") == 3

    quick = run(http, "bitter", "contract-loop", data={"clauses": "1"})
    assert quick["state"]["current"] == "SUCCESS"
    assert outputs_of(quick, "rounds") == [{"iterationCount": 1}]


@SQLITE_ONLY
def test_contract_check_reads_the_uploaded_file(http: httpx.Client) -> None:
    contract = b"contract: lease\nclauses:\n  - rent\n  - repairs\n"
    done = run(http, "bitter", "contract-check", files={"contract": ("contract", contract)})
    assert done["state"]["current"] == "SUCCESS", done
    assert outputs_of(done, "count") == [{"vars": {"clauses": 2}, "exitCode": 0}]


@SQLITE_ONLY
def test_hello_and_its_subflow(http: httpx.Client) -> None:
    hello = run(http, "tutorial", "hello", data={"name": "newcomer"})
    assert hello["state"]["current"] == "SUCCESS"
    assert hello["outputs"] == {"greeting": "hello newcomer"}

    parent = run(http, "tutorial", "subflow")
    assert parent["state"]["current"] == "SUCCESS", parent
    [call] = outputs_of(parent, "call-hello")
    assert call["state"] == "SUCCESS"
    assert call["outputs"] == {"greeting": "hello subflow"}


@SQLITE_ONLY
def test_webhook_starts_the_webhook_example(http: httpx.Client) -> None:
    marker = f"ping-{time.time_ns()}"
    response = http.post(
        "/api/v1/executions/webhook/tutorial/webhook/change-me-webhook-key",
        json={"marker": marker},
    )
    assert response.status_code == 200, response.text
    done = ended(http, response.json()["id"])
    assert done["state"]["current"] == "SUCCESS"
    logs = http.get(f"/api/v1/logs/{done['id']}").json()
    assert any(marker in line["message"] for line in logs), logs
