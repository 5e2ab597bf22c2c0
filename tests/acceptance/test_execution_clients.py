"""Real clients trigger executions with inputs and wait for them: the official SDK `kestrapy`
and the `kestra` Python library's `Flow` class, both unchanged from PyPI."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from kestra import Flow as KestraFlow
from kestrapy import KestraClient
from kestrapy.models.execution import Execution

if TYPE_CHECKING:
    from tests.acceptance.conftest import LannerServer

FLOW = """\
id: {flow_id}
namespace: {namespace}
inputs:
  - id: name
    type: STRING
  - id: times
    type: INT
    defaults: 2
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "Hello {{{{ inputs.name }}}} x{{{{ inputs.times * 2 }}}}"
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ outputs.greet.value }}}}"
"""


def deploy(server: LannerServer, namespace: str, flow_id: str) -> None:
    response = httpx.put(
        f"{server.url}/api/v1/flows/{namespace}/{flow_id}",
        content=FLOW.format(namespace=namespace, flow_id=flow_id),
        headers={"Content-Type": "application/x-yaml"},
        auth=server.auth,
    )
    assert response.status_code == 200, response.text


def test_kestrapy_creates_and_waits(lanner_server: LannerServer, unique_namespace: str) -> None:
    deploy(lanner_server, unique_namespace, "greeter")
    client = KestraClient(
        host=lanner_server.url, username=lanner_server.username, password=lanner_server.password
    )
    try:
        created = client.executions.create_execution(
            "main", unique_namespace, "greeter", wait=True, inputs={"name": "Ada", "times": 3}
        )
        assert created.state.current.value == "SUCCESS"
        fetched = client.executions.execution(created.id, "main")
        raw = httpx.get(
            f"{lanner_server.url}/api/v1/main/executions/{created.id}", auth=lanner_server.auth
        ).json()
    finally:
        client.close()
    Execution.from_dict(raw)  # strict: the shape Kestra 1.3 clients expect
    assert fetched.id == created.id
    assert fetched.inputs == {"name": "Ada", "times": 3}
    greet = next(run for run in raw["taskRunList"] if run["taskId"] == "greet")
    assert greet["outputs"] == {"value": "Hello Ada x6"}


def test_kestra_library_flow_executes(
    lanner_server: LannerServer, unique_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(lanner_server, unique_namespace, "greeter")
    monkeypatch.setenv("KESTRA_HOSTNAME", lanner_server.url)
    monkeypatch.delenv("KESTRA_API_TOKEN", raising=False)
    flow = KestraFlow(wait_for_completion=True, poll_interval=1)
    flow.user = lanner_server.username
    flow.password = lanner_server.password
    result = flow.execute(unique_namespace, "greeter", {"name": "Grace"})
    assert result.status == "SUCCESS"
    assert "Hello Grace x4" in result.log
