"""The official SDK `kestrapy` 2.0.3, unchanged, drives the flow CRUD round trip against Lanner.

kestrapy 2.0 cannot share an environment with the 1.3 line, so it runs in its own venv
(`sdk2_python`) through `sdk2_driver.py`, which prints what the SDK returned as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import LannerServer

DRIVER = Path(__file__).resolve().with_name("sdk2_driver.py")
DRIVER_TIMEOUT_S = 180.0
FLOW_ID = "hello_sdk2"
DESCRIPTION = "Deployed by the acceptance tests through a real client"


@pytest.fixture
def sdk2_run(
    lanner_server: LannerServer,
    sdk2_python: Path,
    unique_namespace: str,
    flow_yaml: Callable[..., str],
    tmp_path: Path,
) -> dict[str, Any]:
    sources = {
        "v1": flow_yaml("hello", flow_id=FLOW_ID, namespace=unique_namespace, message="v1"),
        "v2": flow_yaml("hello", flow_id=FLOW_ID, namespace=unique_namespace, message="v2"),
    }
    paths = []
    for name, text in sources.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        paths.append(str(path))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env |= {
        "LANNER_URL": lanner_server.url,
        "LANNER_USER": lanner_server.username,
        "LANNER_PASSWORD": lanner_server.password,
    }
    done = subprocess.run(
        [str(sdk2_python), str(DRIVER), unique_namespace, FLOW_ID, *paths],
        capture_output=True,
        text=True,
        env=env,
        timeout=DRIVER_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"kestrapy 2.0 driver failed (exit {done.returncode}):\n{done.stderr[-4000:]}\n"
            f"server log:\n{lanner_server.log_tail()}"
        )
    result: dict[str, Any] = json.loads(done.stdout)
    result["_namespace"] = unique_namespace
    result["_sources"] = sources
    return result


def expected_flow(namespace: str, revision: int, message: str) -> dict[str, Any]:
    return {
        "id": FLOW_ID,
        "namespace": namespace,
        "revision": revision,
        "disabled": False,
        "deleted": False,
        "draft": False,
        "tenantId": "main",
        "description": DESCRIPTION,
        "updated_tz": True,
        "labels": [["team", "acceptance"]],
        "inputs": [["greeting", "STRING"]],
        "tasks": [["say", "io.kestra.plugin.core.log.Log", "{{ inputs.greeting }} " + message]],
    }


def assert_flow(step: dict[str, Any], expected: dict[str, Any]) -> None:
    assert step.get("strict") == [], "\n".join(step.get("strict") or [])
    actual = {key: step[key] for key in expected}
    assert actual == expected


def test_flow_round_trip(sdk2_run: dict[str, Any]) -> None:
    run = sdk2_run
    ns = run["_namespace"]
    v1, v2 = run["_sources"]["v1"], run["_sources"]["v2"]
    assert run["sdk_version"] == "2.0.3"

    assert run["create"]["model"] == "FlowWithSource"
    assert_flow(run["create"], expected_flow(ns, 1, "v1"))
    assert run["create"]["source"] == v1

    assert_flow(run["get"], expected_flow(ns, 1, "v1"))
    assert run["get"]["source"] == v1

    assert_flow(run["update"], expected_flow(ns, 2, "v2"))
    assert run["update"]["source"] == v2

    assert_flow(run["get_revision_1"], expected_flow(ns, 1, "v1"))
    assert run["get_revision_1"]["source"] == v1

    search = run["search"]
    assert search["strict"] == [], "\n".join(search["strict"])
    assert search["model"] == "PagedResultsFlow"
    assert search["total"] == 1
    assert [(f["id"], f["revision"], f["model"]) for f in search["results"]] == [
        (FLOW_ID, 2, "Flow")
    ]

    listed = run["list"]
    assert listed["strict"] == [], "\n".join(listed["strict"])
    assert [(f["id"], f["revision"], f["deleted"]) for f in listed["results"]] == [
        (FLOW_ID, 2, False)
    ]

    assert run["delete"]["status"] in (200, 204)
    assert run["get_after_delete"]["exception"] == "NotFoundException"
    assert run["get_after_delete"]["status"] == 404
    assert run["search_after_delete"]["total"] == 0


def test_errors_surface_as_sdk_exceptions(sdk2_run: dict[str, Any]) -> None:
    existing = sdk2_run["create_existing"]
    assert existing["exception"] == "UnprocessableEntityException"
    assert existing["status"] == 422
    assert "already exists" in existing["body"]

    anonymous = sdk2_run["anonymous"]
    assert anonymous["exception"] == "UnauthorizedException"
    assert anonymous["status"] == 401
