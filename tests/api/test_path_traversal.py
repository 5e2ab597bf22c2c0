"""Path traversal through the API: namespace files, KV keys, namespaces and flow ids, execution
files and FILE input names. Each hostile path is refused (4xx, never 5xx) or kept inside the
storage root; afterwards no file exists outside it and nothing outside it was read."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.api.executions_support import create, deploy, log_flow

from lanner.api.context import Services

MARK = b"TRAVERSAL-MARK"
HOSTILE_PATHS = (
    "../escape.txt",
    "/../escape.txt",
    "/a/../../escape.txt",
    "/a/b/../../../escape.txt",
    "..\\escape.txt",
    "/a\\..\\..\\escape.txt",
    "/./../escape.txt",
    "/escape\x00.txt",
    "/..",
    "..",
)
# Not traversal (query values are decoded once: this names a directory "%2e%2e"), so it may be
# stored, but only inside the storage root.
LITERAL_PATHS = ("/a/%2e%2e/%2e%2e/escape.txt", "%2e%2e%2fescape.txt")
REFUSED = frozenset({400, 404, 405, 413, 422})
FILE_INPUT_FLOW = """id: files
namespace: {ns}
inputs:
  - id: upload
    type: FILE
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def files_url(ns: str, suffix: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/files{suffix}"


def escaped(services: Services, root: Path) -> list[Path]:
    """Files holding the test's mark outside the storage root (anywhere under ``root``)."""
    storage = services.settings.storage_dir.resolve()
    found = []
    for path in root.rglob("*"):
        resolved = path.resolve()
        if path.is_file() and storage not in resolved.parents and path.suffix != ".db":
            try:
                if MARK in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


@pytest.fixture
def outside(services: Services) -> Path:
    """A secret file beside the storage root that no API call may read."""
    target = services.settings.storage_dir.parent / "outside.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"OUTSIDE-SECRET")
    return target


def assert_refused_or_inside(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert b"OUTSIDE-SECRET" not in response.content


async def test_namespace_files_never_leave_the_storage_root(
    api: httpx.AsyncClient, services: Services, ns: str, outside: Path, tmp_path: Path
) -> None:
    for path in HOSTILE_PATHS:
        upload = await api.post(
            files_url(ns), params={"path": path}, files={"fileContent": ("x", MARK)}
        )
        assert upload.status_code in REFUSED, (path, upload.status_code, upload.text)
        raw = await api.post(files_url(ns), params={"path": path}, content=MARK)
        assert raw.status_code in REFUSED, (path, raw.status_code)
        for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/directory"),
                               ("POST", "/directory"), ("GET", "/stats")):  # fmt: skip
            response = await api.request(method, files_url(ns, suffix), params={"path": path})
            assert response.status_code in REFUSED, (method, suffix, path, response.status_code)
        moved = await api.put(files_url(ns), params={"from": "/a.txt", "to": path})
        assert moved.status_code in REFUSED, (path, moved.status_code)
    for path in LITERAL_PATHS:
        upload = await api.post(files_url(ns), params={"path": path}, content=MARK)
        assert upload.status_code < 500, upload.text
    for target in ("../outside.txt", "../../outside.txt", "/../../../outside.txt"):
        assert_refused_or_inside(await api.get(files_url(ns), params={"path": target}))
    assert escaped(services, tmp_path) == []
    assert outside.read_bytes() == b"OUTSIDE-SECRET"  # noqa: ASYNC240


# Written encoded: a client normalizes a literal "a/../b" away before sending it, so the server
# would never see it; decoded by the server, these are the traversals.
@pytest.mark.parametrize(
    "namespace", ["%2E%2E", "a%2F..", "..%2F..%2Fetc", "%2e%2e", "a..b%2F..%2Fc", "a%2F..%2F..%2Fb"]
)
async def test_hostile_namespaces_and_ids_are_refused(
    api: httpx.AsyncClient, namespace: str
) -> None:
    for url in (
        f"/api/v1/namespaces/{namespace}/files?path=/x.txt",
        f"/api/v1/namespaces/{namespace}/kv/key",
        f"/api/v1/flows/{namespace}/flow",
        f"/api/v1/flows/ns/{namespace}",
    ):
        response = await api.get(url)
        assert response.status_code in REFUSED, (url, response.status_code)
    put = await api.put(f"/api/v1/namespaces/{namespace}/kv/key", content=b'"v"')
    assert put.status_code in REFUSED


@pytest.mark.parametrize("key", ["%2E%2E", "..%2Fx", "a%2F..%2Fb", "..%5Cx", "a%5Cb", "x%00y"])
async def test_hostile_kv_keys_are_refused(api: httpx.AsyncClient, ns: str, key: str) -> None:
    url = f"/api/v1/namespaces/{ns}/kv/{key}"
    put = await api.put(url, content=b'"v"', headers={"Content-Type": "application/json"})
    assert put.status_code in REFUSED, (key, put.status_code, put.text)
    assert (await api.get(url)).status_code in REFUSED
    assert (await api.delete(url)).status_code in REFUSED


async def test_execution_files_stay_within_their_execution(
    api: httpx.AsyncClient, services: Services, ns: str, outside: Path
) -> None:
    await deploy(api, log_flow(ns))
    body = await create(api, ns)
    own = f"kestra:///{ns.replace('.', '/')}/hello/executions/{body['id']}"
    base = f"/api/v1/executions/{body['id']}/file"
    for path in (
        own + "/../../../../outside.txt",
        own + "/../../../../../../../outside.txt",
        own + "/%2e%2e/%2e%2e/outside.txt",
        "kestra:///../outside.txt",
        "kestra:///" + "../" * 8 + "etc/passwd",
        "file:///etc/passwd",
        "/etc/passwd",
        str(outside),
        "kestra://host/../../outside.txt",
    ):
        for suffix in ("", "/metas", "/preview"):
            response = await api.get(base + suffix, params={"path": path})
            assert response.status_code in REFUSED, (suffix, path, response.status_code)
            assert_refused_or_inside(response)


async def test_file_input_names_cannot_escape(
    api: httpx.AsyncClient, services: Services, ns: str, tmp_path: Path
) -> None:
    await deploy(api, FILE_INPUT_FLOW.format(ns=ns))
    for name in ("../../../../escape.txt", "..\\..\\escape.txt", "/etc/escape.txt", ".."):
        response = await api.post(
            f"/api/v1/executions/{ns}/files", files={"upload": (name, MARK, "text/plain")}
        )
        assert response.status_code < 500, response.text
        if response.status_code == 200:
            uri = response.json()["inputs"]["upload"]
            assert "/../" not in uri
            assert uri.startswith(f"kestra:///{ns.replace('.', '/')}/files/executions/")
    assert escaped(services, tmp_path) == []
