"""Bad input at the edge (issue 16): bounded YAML, body/header/form limits, the parse deadline.

Each limit is refused with Kestra's error body naming the setting; nothing is buffered whole,
nothing half-stored, and the event loop keeps answering while a flow is parsed.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import threading
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.conftest import PASSWORD, USER, client_for
from tests.api.helpers import YAML, flow_yaml

from lanner.api import flow_bulk, revisions
from lanner.config import Settings
from lanner.store import Store

pytestmark = pytest.mark.asyncio

MiB = 1024 * 1024


def alias_bomb(levels: int = 9) -> str:
    """The issue's 1 KB "billion laughs": nine levels of nine aliases each."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    names = "abcdefghijklmnopqrstuvwxyz"[: levels + 1]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def assert_kestra_error(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["_links"]["self"]["href"].startswith("/")
    for fragment in fragments:
        assert fragment in body["message"], body["message"]
    return body


@pytest.fixture
def limited_settings(settings: Settings) -> Settings:
    return replace(
        settings,
        max_flow_body_bytes=64 * 1024,
        max_json_body_bytes=16 * 1024,
        max_upload_bytes=256 * 1024,
        max_form_part_bytes=8 * 1024,
        max_form_fields=20,
        max_header_bytes=8 * 1024,
    )


@pytest.fixture
async def limited(limited_settings: Settings, api_store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(limited_settings, api_store, auth=(USER, PASSWORD)) as http:
        yield http


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


class Chunks:
    """A streamed (chunked) body that counts how much of it the server pulled."""

    def __init__(self, total: int, chunk: int = 64 * 1024, prefix: bytes = b"") -> None:
        self.total, self.chunk, self.prefix = total, chunk, prefix
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.prefix:
            self.sent += len(self.prefix)
            yield self.prefix
        while self.sent < self.total:
            self.sent += self.chunk
            yield b"#" * (self.chunk - 1) + b"\n"


# --- bounded YAML -----------------------------------------------------------------------------


async def test_alias_bomb_is_422_naming_the_limit_and_where(
    client: httpx.AsyncClient, ns: str
) -> None:
    source = flow_yaml(ns) + alias_bomb()
    assert len(source.encode()) < 1024
    response = await client.post("/api/v1/flows", content=source, headers=YAML)
    body = assert_kestra_error(response, 422, "50 aliases", "yaml-max-aliases", "line 13")
    assert "column" in body["_embedded"]["errors"][0]["message"]
    assert (await client.get(f"/api/v1/flows/{ns}/hello")).status_code == 404


async def test_alias_bomb_is_refused_by_validate_bulk_and_namespace_update(
    client: httpx.AsyncClient, ns: str
) -> None:
    source = flow_yaml(ns) + alias_bomb()
    validated = await client.post("/api/v1/flows/validate", content=source, headers=YAML)
    assert validated.status_code == 200
    assert "yaml-max-aliases" in validated.json()[0]["constraints"]
    bulk = await client.post("/api/v1/flows/bulk", content=source, headers=YAML)
    assert_kestra_error(bulk, 422, "yaml-max-aliases")
    update = await client.post(f"/api/v1/flows/{ns}", content=source, headers=YAML)
    assert_kestra_error(update, 422, "yaml-max-aliases")
    files = {"fileUpload": ("bomb.yml", source.encode(), "application/x-yaml")}
    imported = await client.post("/api/v1/flows/import", files=files)
    assert imported.status_code == 200
    assert imported.json() == ["bomb.yml[0]"]


async def test_deep_nesting_is_422_naming_the_depth_limit(
    client: httpx.AsyncClient, ns: str
) -> None:
    source = flow_yaml(ns) + "variables:\n  deep: " + "[" * 100_000 + "]" * 100_000 + "\n"
    response = await client.post("/api/v1/flows", content=source, headers=YAML)
    assert_kestra_error(response, 422, "nested deeper than 100 levels", "yaml-max-depth")
    assert (await client.get("/health")).status_code == 200


async def test_node_and_size_budgets_are_configurable(
    settings: Settings, api_store: Store, ns: str
) -> None:
    small = replace(settings, yaml_max_nodes=200, yaml_max_chars=2000)
    async with client_for(small, api_store, auth=(USER, PASSWORD)) as http:
        many = flow_yaml(ns) + "variables:\n  list: [" + ",".join(["1"] * 300) + "]\n"
        response = await http.post("/api/v1/flows", content=many, headers=YAML)
        assert_kestra_error(response, 422, "more than 200 nodes", "yaml-max-nodes")
        long = flow_yaml(ns) + "description: " + "x" * 3000 + "\n"
        response = await http.post("/api/v1/flows", content=long, headers=YAML)
        assert_kestra_error(response, 422, "longer than 2000 characters", "yaml-max-chars")
        fine = await http.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)
        assert fine.status_code == 200, fine.text


async def test_expanded_aliases_count_against_the_node_budget(
    settings: Settings, api_store: Store, ns: str
) -> None:
    small = replace(settings, yaml_max_nodes=500)
    # 3 aliases only, but each expands to 300 values
    many = "variables:\n  a: &a [" + ",".join(["1"] * 300) + "]\n  b: [*a, *a, *a]\n"
    async with client_for(small, api_store, auth=(USER, PASSWORD)) as http:
        response = await http.post("/api/v1/flows", content=flow_yaml(ns) + many, headers=YAML)
        assert_kestra_error(response, 422, "aliases expanded", "yaml-max-nodes")


async def test_yaml_inputs_are_bounded(client: httpx.AsyncClient, ns: str) -> None:
    flow = f"id: yamlin\nnamespace: {ns}\ninputs:\n  - id: doc\n    type: YAML\n" + (
        "tasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    assert (await client.post("/api/v1/flows", content=flow, headers=YAML)).status_code == 200
    response = await client.post(f"/api/v1/executions/{ns}/yamlin", data={"doc": alias_bomb()})
    assert_kestra_error(response, 422, "inputs.doc")


# --- body, header and form limits -------------------------------------------------------------


async def test_a_20_mib_flow_body_is_413_before_it_is_read(
    client: httpx.AsyncClient, ns: str
) -> None:
    body = Chunks(20 * MiB, prefix=flow_yaml(ns).encode())
    headers = {**YAML, "Content-Length": str(20 * MiB)}
    response = await client.post("/api/v1/flows", content=body, headers=headers)
    assert_kestra_error(response, 413, "Payload Too Large", "max-flow-body-bytes")
    assert body.sent <= len(flow_yaml(ns)) + 64 * 1024  # at most the first chunk was pulled


async def test_a_streamed_flow_body_is_413_as_soon_as_it_crosses_the_limit(
    client: httpx.AsyncClient, ns: str
) -> None:
    body = Chunks(20 * MiB, prefix=flow_yaml(ns).encode())
    response = await client.post("/api/v1/flows", content=body, headers=YAML)  # chunked
    assert_kestra_error(response, 413, "over 4194304 bytes", "max-flow-body-bytes")
    assert body.sent < 5 * MiB  # refused at 4 MiB, never read to the end
    assert (await client.get(f"/api/v1/flows/{ns}/hello")).status_code == 404


async def test_json_bodies_have_their_own_limit(limited: httpx.AsyncClient) -> None:
    body = Chunks(1 * MiB, chunk=4096, prefix=b'{"taskRunId": "')
    response = await limited.post(
        "/api/v1/executions/nope/state",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert_kestra_error(response, 413, "max-json-body-bytes")
    assert body.sent < 32 * 1024


async def test_headers_over_the_limit_are_431(limited: httpx.AsyncClient) -> None:
    response = await limited.get("/api/v1/flows/search", headers={"X-Big": "y" * 10_000})
    assert_kestra_error(response, 431, "max-header-bytes")
    assert (await limited.get("/api/v1/flows/search")).status_code == 200


async def test_an_upload_over_the_limit_is_413_and_leaves_no_file(
    limited: httpx.AsyncClient, limited_settings: Settings, ns: str
) -> None:
    flow = (
        f"id: files\nnamespace: {ns}\ninputs:\n  - id: file\n    type: FILE\n"
        "tasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    assert (await limited.post("/api/v1/flows", content=flow, headers=YAML)).status_code == 200
    files = {"file": ("big.bin", b"z" * (512 * 1024), "application/octet-stream")}
    response = await limited.post(f"/api/v1/executions/{ns}/files", files=files)
    assert_kestra_error(response, 413, "max-upload-bytes")
    searched = await limited.get("/api/v1/executions/search", params={"namespace": ns})
    assert searched.json()["total"] == 0
    assert stored_files(limited_settings.storage_dir) == []
    upload = await limited.post(
        f"/api/v1/namespaces/{ns}/files",
        params={"path": "/big.bin"},
        files={"fileContent": files["file"]},
    )
    assert_kestra_error(upload, 413, "max-upload-bytes")
    missing = await limited.get(f"/api/v1/namespaces/{ns}/files", params={"path": "/big.bin"})
    assert missing.status_code == 404


async def test_form_parts_and_field_counts_are_limited(limited: httpx.AsyncClient, ns: str) -> None:
    assert (await limited.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)).is_success
    part = await limited.post(
        f"/api/v1/executions/{ns}/hello",
        files={"note": (None, b"n" * (16 * 1024))},  # a text part over 8 KiB
    )
    assert_kestra_error(part, 413, "max-form-part-bytes")
    fields = {f"f{i}": (None, b"1") for i in range(30)}
    counted = await limited.post(f"/api/v1/executions/{ns}/hello", files=fields)
    assert_kestra_error(counted, 413, "max-form-fields")
    searched = await limited.get("/api/v1/executions/search", params={"namespace": ns})
    assert searched.json()["total"] == 0


async def test_a_zip_member_over_the_size_limit_is_not_imported(
    settings: Settings, api_store: Store, ns: str
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ok.yml", flow_yaml(ns, "ok"))
        archive.writestr("bomb.yml", flow_yaml(ns, "bomb") + "#" * (4 * MiB))  # compresses well
    small = replace(settings, yaml_max_chars=64 * 1024)
    async with client_for(small, api_store, auth=(USER, PASSWORD)) as http:
        files = {"fileUpload": ("flows.zip", buffer.getvalue(), "application/zip")}
        response = await http.post("/api/v1/flows/import", files=files)
        assert response.status_code == 200, response.text
        assert response.json() == ["bomb.yml"]
        assert (await http.get(f"/api/v1/flows/{ns}/ok")).status_code == 200


# --- the parse deadline -----------------------------------------------------------------------


async def test_a_parse_past_its_deadline_is_503_and_the_loop_keeps_answering(
    settings: Settings, api_store: Store, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    real_parse = revisions.parse_for_save

    def slow_parse(source: str, *args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(revisions, "parse_for_save", slow_parse)
    quick = replace(settings, flow_parse_timeout=0.5)
    async with client_for(quick, api_store, auth=(USER, PASSWORD)) as http:
        posting = asyncio.create_task(
            http.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)
        )
        assert await asyncio.to_thread(entered.wait, 30)
        health = await http.get("/health")  # answered while the parse is stuck in its thread
        assert health.status_code == 200
        response = await posting
        release.set()
        assert_kestra_error(response, 503, "flow-parse-timeout")
        assert (await http.get(f"/api/v1/flows/{ns}/hello")).status_code == 404


async def test_a_zip_is_unpacked_within_a_total_budget(
    client: httpx.AsyncClient, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = flow_yaml(ns, "first")
    monkeypatch.setattr(flow_bulk, "MAX_UNZIPPED_BYTES", len(first) + 10)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("first.yml", first)
        archive.writestr("second.yml", flow_yaml(ns, "second"))
    files = {"fileUpload": ("flows.zip", buffer.getvalue(), "application/zip")}
    response = await client.post("/api/v1/flows/import", files=files)
    assert response.status_code == 200, response.text
    assert response.json() == ["second.yml"]
    assert (await client.get(f"/api/v1/flows/{ns}/first")).status_code == 200
