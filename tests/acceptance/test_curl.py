"""The README's first flow, deployed and read back with the real `curl`, on every backend.

Checks the JSON shapes a Kestra 1.3 server answers (FlowWithSource with `tenantId: "main"`,
`deleted`/`disabled` booleans, no nulls), the tenant-less and tenant-prefixed paths, and 401.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import LannerServer

CURL_TIMEOUT_S = 60.0
STATUS_MARKER = "\n__HTTP_STATUS__:"
FLOW_ID = "hello_curl"
DESCRIPTION = "Deployed by the acceptance tests through a real client"


@dataclass(frozen=True, slots=True)
class CurlResult:
    status: int
    body: str
    headers: str

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def curl(curl_bin: str, lanner_server: LannerServer, tmp_path: Path) -> Callable[..., CurlResult]:
    """Run curl against the server like the README does: `curl ... -u user:password URL`."""

    def run(*args: str, path: str, auth: bool = True, host: str = "localhost") -> CurlResult:
        headers_file = tmp_path / "headers.txt"
        command = [
            curl_bin,
            "-sS",
            "-g",
            "-D",
            str(headers_file),
            "-w",
            STATUS_MARKER + "%{http_code}",
        ]
        if auth:
            command += ["-u", f"{lanner_server.username}:{lanner_server.password}"]
        command += [*args, f"{host}:{lanner_server.port}{path}"]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CURL_TIMEOUT_S, check=False
        )
        assert done.returncode == 0, f"curl failed: {done.stderr}"
        body, _, status = done.stdout.rpartition(STATUS_MARKER)
        return CurlResult(int(status), body, headers_file.read_text())

    return run


def assert_no_nulls(value: Any, where: str = "$") -> None:
    """Kestra serializes with Jackson non_null: a null never appears in its JSON."""
    assert value is not None, f"null at {where}"
    if isinstance(value, dict):
        for key, item in value.items():
            assert_no_nulls(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_no_nulls(item, f"{where}[{index}]")


def assert_flow_with_source(
    body: Any, *, namespace: str, flow_id: str, revision: int, source: str, message: str
) -> None:
    assert_no_nulls(body)
    assert body["id"] == flow_id
    assert body["namespace"] == namespace
    assert body["revision"] == revision
    assert body["tenantId"] == "main"
    assert body["deleted"] is False
    assert body["disabled"] is False
    assert body["source"] == source
    assert body["description"] == DESCRIPTION
    assert body["labels"] == [{"key": "team", "value": "acceptance"}]
    # Kestra may add defaulted properties (e.g. `required`); these are the ones written.
    [greeting] = body["inputs"]
    assert (greeting["id"], greeting["type"], greeting["defaults"]) == (
        "greeting",
        "STRING",
        "hello",
    )
    [task] = body["tasks"]
    assert (task["id"], task["type"]) == ("say", "io.kestra.plugin.core.log.Log")
    assert task["message"] == "{{ inputs.greeting }} " + message
    updated = datetime.fromisoformat(body["updated"].replace("Z", "+00:00"))
    assert updated.utcoffset() is not None


def write_flow(tmp_path: Path, source: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(source.encode())
    return path


YAML = ("-H", "Content-Type: application/x-yaml")


def test_put_creates_then_updates_and_round_trips(
    curl: Callable[..., CurlResult],
    unique_namespace: str,
    flow_yaml: Callable[..., str],
    tmp_path: Path,
) -> None:
    ns = unique_namespace
    v1 = flow_yaml("hello", flow_id=FLOW_ID, namespace=ns, message="from curl")
    flow_path = write_flow(tmp_path, v1)
    url = f"/api/v1/flows/{ns}/{FLOW_ID}"

    # PUT creates a flow that does not exist yet (the user's reference)
    created = curl("-X", "PUT", *YAML, "--data-binary", f"@{flow_path}", path=url)
    assert created.status == 200, created.body
    assert "application/json" in created.headers.lower()
    expected = {"namespace": ns, "flow_id": FLOW_ID, "source": v1}
    assert_flow_with_source(created.json(), revision=1, message="from curl", **expected)

    # GET, tenant-less and tenant-prefixed, answer the same flow
    for path in (url, f"/api/v1/main/flows/{ns}/{FLOW_ID}"):
        read = curl(path=f"{path}?source=true")
        assert read.status == 200, read.body
        assert_flow_with_source(read.json(), revision=1, message="from curl", **expected)

    # the same source again makes no new revision
    same = curl("-X", "PUT", *YAML, "--data-binary", f"@{flow_path}", path=url)
    assert same.status == 200, same.body
    assert same.json()["revision"] == 1

    # a changed source makes revision 2
    v2 = flow_yaml("hello", flow_id=FLOW_ID, namespace=ns, message="changed")
    changed = curl("-X", "PUT", *YAML, "--data-binary", f"@{write_flow(tmp_path, v2)}", path=url)
    assert changed.status == 200, changed.body
    expected["source"] = v2
    assert_flow_with_source(changed.json(), revision=2, message="changed", **expected)

    revisions = curl(path=f"{url}/revisions")
    assert revisions.status == 200, revisions.body
    assert [(r["revision"], r["source"]) for r in revisions.json()] == [(1, v1), (2, v2)]

    # list and search
    listed = curl(path=f"/api/v1/flows/{ns}")
    assert listed.status == 200, listed.body
    assert [(f["id"], f["revision"]) for f in listed.json()] == [(FLOW_ID, 2)]
    found = curl(
        "-G", "--data-urlencode", f"filters[namespace][EQUALS]={ns}", path="/api/v1/flows/search"
    )
    assert found.status == 200, found.body
    page = found.json()
    assert page["total"] == 1
    assert [(f["id"], f["tenantId"], f["deleted"]) for f in page["results"]] == [
        (FLOW_ID, "main", False)
    ]

    # delete, then 404
    deleted = curl("-X", "DELETE", path=url)
    assert deleted.status == 204, deleted.body
    gone = curl(path=url)
    assert gone.status == 404, gone.body
    assert gone.json()["message"]


def test_post_creates_and_rejects_an_existing_id(
    curl: Callable[..., CurlResult],
    unique_namespace: str,
    flow_yaml: Callable[..., str],
    tmp_path: Path,
) -> None:
    source = flow_yaml("hello", flow_id=FLOW_ID, namespace=unique_namespace, message="posted")
    flow_path = write_flow(tmp_path, source)

    created = curl("-X", "POST", *YAML, "--data-binary", f"@{flow_path}", path="/api/v1/flows")
    assert created.status == 200, created.body
    assert_flow_with_source(
        created.json(),
        namespace=unique_namespace,
        flow_id=FLOW_ID,
        revision=1,
        source=source,
        message="posted",
    )

    again = curl("-X", "POST", *YAML, "--data-binary", f"@{flow_path}", path="/api/v1/flows")
    assert again.status == 422, again.body
    assert "Flow id already exists" in again.json()["message"]

    read = curl(path=f"/api/v1/main/flows/{unique_namespace}/{FLOW_ID}?source=true")
    assert read.status == 200, read.body
    assert read.json()["source"] == source


def test_invalid_yaml_is_422_with_kestra_error_body(
    curl: Callable[..., CurlResult], unique_namespace: str, tmp_path: Path
) -> None:
    source = f"id: broken\nnamespace: {unique_namespace}\nnotAProperty: 1\ntasks: []\n"
    flow_path = write_flow(tmp_path, source)
    rejected = curl("-X", "POST", *YAML, "--data-binary", f"@{flow_path}", path="/api/v1/flows")
    assert rejected.status == 422, rejected.body
    body = rejected.json()
    assert body["message"]
    assert body["_embedded"]["errors"], body
    assert all("message" in error for error in body["_embedded"]["errors"])


@pytest.mark.parametrize(
    "credentials", [None, "acceptance@lanner.test:wrong", "nobody:s3cret-Pa55word"]
)
def test_api_needs_credentials(
    curl: Callable[..., CurlResult], unique_namespace: str, credentials: str | None
) -> None:
    args = () if credentials is None else ("-u", credentials)
    for path in ("/api/v1/flows/search", f"/api/v1/main/flows/{unique_namespace}"):
        denied = curl(*args, path=path, auth=False)
        assert denied.status == 401, denied.body
        assert "www-authenticate:" in denied.headers.lower()


def test_health_is_open(curl: Callable[..., CurlResult]) -> None:
    health = curl(path="/health", auth=False)
    assert health.status == 200, health.body
