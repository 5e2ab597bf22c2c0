"""A pip-installed task plugin runs with no change to Lanner: ``lanner-hello``
(``tests/plugins/lanner-hello``, declared under the ``lanner.tasks`` entry-point group) is
used by a flow that a real server saves, runs and logs, on every backend.

The plugin must be installed (``pip install ./tests/plugins/lanner-hello``, as the README's test
command does): skipped without it locally, a failure when ``CI=true``.
"""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, distribution
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from tests.acceptance.conftest import is_ci

from lanner.tasks.registry import ENTRY_POINT_GROUP

if TYPE_CHECKING:
    from tests.acceptance.conftest import LannerServer

PLUGIN = "lanner-hello"
HELLO = "io.lanner.plugin.hello.Hello"
DEADLINE_S = 60.0

try:
    _PLUGIN_ENTRY_POINTS = distribution(PLUGIN).entry_points
except PackageNotFoundError:
    _MISSING = f"{PLUGIN} is not installed (pip install ./tests/plugins/{PLUGIN})"
    if is_ci():
        pytest.fail(f"{_MISSING}; CI=true: the README's test command installs it", pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)


def test_the_plugin_declares_a_lanner_tasks_entry_point() -> None:
    assert [e.value for e in _PLUGIN_ENTRY_POINTS if e.group == ENTRY_POINT_GROUP] == [
        "lanner_hello:Hello"
    ]


def flow(namespace: str) -> str:
    return (
        f"id: greet\nnamespace: {namespace}\n"
        "inputs:\n  - id: who\n    type: STRING\n    defaults: Ada\n"
        "tasks:\n"
        f"  - id: hello\n    type: {HELLO}\n    name: '{{{{ inputs.who }}}}'\n    times: 2\n"
        "  - id: after\n    type: io.kestra.plugin.core.debug.Return\n"
        "    format: '{{ outputs.hello.message }} ({{ outputs.hello.count }})'\n"
    )


def _finished(http: httpx.Client, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        body: dict[str, Any] = http.get(f"/api/v1/executions/{execution_id}").json()
        if body["state"]["current"] in ("SUCCESS", "FAILED", "KILLED", "WARNING"):
            return body
        assert time.monotonic() < deadline, f"execution still {body['state']['current']}"
        time.sleep(0.1)


def test_a_pip_installed_task_type_runs_end_to_end(
    lanner_server: LannerServer, unique_namespace: str
) -> None:
    with httpx.Client(base_url=lanner_server.url, auth=lanner_server.auth, timeout=30) as http:
        saved = http.post(
            "/api/v1/flows",
            content=flow(unique_namespace),
            headers={"Content-Type": "application/x-yaml"},
        )
        assert saved.status_code == 200, saved.text
        created = http.post(
            f"/api/v1/executions/{unique_namespace}/greet", files={"who": (None, "Grace")}
        )
        assert created.status_code == 200, created.text
        done = _finished(http, created.json()["id"])
        assert done["state"]["current"] == "SUCCESS", lanner_server.log_tail()
        runs = {r["taskId"]: r for r in done["taskRunList"]}
        assert runs["hello"]["outputs"] == {"message": "Hello, Grace!", "count": 2}
        assert runs["after"]["outputs"] == {"value": "Hello, Grace! (2)"}
        logs = http.get(f"/api/v1/logs/{done['id']}", params={"taskId": "hello"}).json()
        messages = [line["message"] for line in logs if line.get("taskId") == "hello"]
        assert messages.count("Hello, Grace!") == 2
