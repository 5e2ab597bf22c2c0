"""Flows API: search, validate, namespace and tenant bulk updates, enable/disable, import and
export, distinct namespaces."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest
from tests.api.helpers import YAML, flow_yaml

pytestmark = pytest.mark.asyncio


async def create(client: httpx.AsyncClient, source: str) -> None:
    response = await client.post("/api/v1/flows", content=source, headers=YAML)
    assert response.status_code == 200, response.text


async def test_search_pages_and_totals(client: httpx.AsyncClient, ns: str) -> None:
    for index in range(5):
        await create(client, flow_yaml(ns, f"flow-{index}"))
    first = await client.get(
        "/api/v1/flows/search", params={"namespace": ns, "size": 2, "page": 1, "sort": "id:asc"}
    )
    assert first.status_code == 200
    assert first.json()["total"] == 5
    assert [f["id"] for f in first.json()["results"]] == ["flow-0", "flow-1"]
    last = await client.get(
        "/api/v1/flows/search", params={"namespace": ns, "size": 2, "page": 3, "sort": "id:asc"}
    )
    assert [f["id"] for f in last.json()["results"]] == ["flow-4"]
    desc = await client.get(
        "/api/v1/flows/search", params={"namespace": ns, "size": 1, "sort": "id:desc"}
    )
    assert desc.json()["results"][0]["id"] == "flow-4"
    assert "source" not in desc.json()["results"][0]


async def test_search_filters_syntax_and_labels(client: httpx.AsyncClient, ns: str) -> None:
    await create(client, flow_yaml(ns, "alpha", labels="{env: prod}"))
    await create(client, flow_yaml(ns, "beta", labels="{env: dev}"))
    await create(client, flow_yaml(ns + ".child", "gamma", labels="{env: prod}"))
    by_filter = await client.get(
        "/api/v1/main/flows/search",
        params={"filters[namespace][PREFIX]": ns, "filters[labels][EQUALS][env]": "prod"},
    )
    assert sorted(f["id"] for f in by_filter.json()["results"]) == ["alpha", "gamma"]
    legacy = await client.get("/api/v1/flows/search", params={"namespace": ns, "labels": "env:dev"})
    assert [f["id"] for f in legacy.json()["results"]] == ["beta"]
    by_q = await client.get("/api/v1/flows/search", params={"namespace": ns, "q": "AMM"})
    assert [f["id"] for f in by_q.json()["results"]] == ["gamma"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"page": "0"}, 422),
        ({"size": "0"}, 422),
        ({"page": "x"}, 400),
        ({"sort": "nope:asc"}, 422),
        ({"labels": "novalue"}, 422),
        ({"filters[bogus][EQUALS]": "1"}, 422),
        ({"filters[namespace][NOPE]": "1"}, 422),
    ],
)
async def test_search_bad_parameters(
    client: httpx.AsyncClient, params: dict[str, str], status: int
) -> None:
    response = await client.get("/api/v1/flows/search", params=params)
    assert response.status_code == status, response.text
    assert response.json()["message"]


async def test_validate_reports_per_document(client: httpx.AsyncClient, ns: str) -> None:
    legacy = (
        f"id: old\nnamespace: {ns}\ntasks:\n  - id: l\n    type: io.kestra.core.tasks.log.Log\n"
        "    message: hi\n"
    )
    broken = f"id: broken\nnamespace: {ns}\ntasks:\n  - id: x\n    type: io.kestra.nope.X\n"
    body = flow_yaml(ns) + "---\n" + legacy + "---\n" + broken
    response = await client.post("/api/v1/flows/validate", content=body, headers=YAML)
    assert response.status_code == 200
    results = response.json()
    assert [r["index"] for r in results] == [0, 1, 2]
    assert "constraints" not in results[0]
    assert results[0]["flow"] == "hello"
    assert results[0]["namespace"] == ns
    assert any("io.kestra.core.tasks.log.Log" in info for info in results[1]["infos"])
    assert "io.kestra.nope.X" in results[2]["constraints"]
    assert results[2]["flow"] == "broken"
    assert (await client.get(f"/api/v1/flows/{ns}/hello")).status_code == 404


async def test_namespace_update_creates_updates_and_deletes(
    client: httpx.AsyncClient, ns: str
) -> None:
    await create(client, flow_yaml(ns, "keep"))
    await create(client, flow_yaml(ns, "drop"))
    body = flow_yaml(ns, "keep", message="changed") + "---\n" + flow_yaml(ns, "new")
    response = await client.post(f"/api/v1/flows/{ns}", content=body, headers=YAML)
    assert response.status_code == 200, response.text
    by_id = {(f["id"], f["deleted"]): f for f in response.json()}
    assert by_id[("drop", True)]["revision"] == 2
    assert by_id[("keep", False)]["revision"] == 2
    assert by_id[("new", False)]["revision"] == 1
    listed = await client.get(f"/api/v1/flows/{ns}")
    assert [f["id"] for f in listed.json()] == ["keep", "new"]


async def test_namespace_update_without_delete_keeps_others(
    client: httpx.AsyncClient, ns: str
) -> None:
    await create(client, flow_yaml(ns, "other"))
    response = await client.post(
        f"/api/v1/flows/{ns}",
        params={"delete": "false"},
        content=flow_yaml(ns, "new"),
        headers=YAML,
    )
    assert response.status_code == 200
    listed = await client.get(f"/api/v1/flows/{ns}")
    assert [f["id"] for f in listed.json()] == ["new", "other"]


async def test_namespace_update_rejects_foreign_namespace_atomically(
    client: httpx.AsyncClient, ns: str
) -> None:
    body = flow_yaml(ns, "fine") + "---\n" + flow_yaml(ns + ".elsewhere", "foreign")
    response = await client.post(f"/api/v1/flows/{ns}", content=body, headers=YAML)
    assert response.status_code == 422
    assert (await client.get(f"/api/v1/flows/{ns}")).json() == []


async def test_namespace_update_rejects_duplicates_and_invalid(
    client: httpx.AsyncClient, ns: str
) -> None:
    twice = flow_yaml(ns, "same") + "---\n" + flow_yaml(ns, "same")
    assert (
        await client.post(f"/api/v1/flows/{ns}", content=twice, headers=YAML)
    ).status_code == 422
    invalid = flow_yaml(ns, "ok") + "---\n" + f"id: bad\nnamespace: {ns}\ntasks: []\n"
    response = await client.post(f"/api/v1/flows/{ns}", content=invalid, headers=YAML)
    assert response.status_code == 422
    assert any(e["path"].startswith("[1]") for e in response.json()["_embedded"]["errors"])
    assert (await client.get(f"/api/v1/flows/{ns}")).json() == []


async def test_tenant_bulk_update(client: httpx.AsyncClient, ns: str) -> None:
    body = flow_yaml(ns + ".a", "one") + "---\n" + flow_yaml(ns + ".b", "two")
    response = await client.post(
        "/api/v1/flows/bulk", params={"delete": "false"}, content=body, headers=YAML
    )
    assert response.status_code == 200, response.text
    assert sorted(f["id"] for f in response.json()) == ["one", "two"]
    assert (await client.get(f"/api/v1/flows/{ns}.b/two")).status_code == 200


async def test_disable_and_enable_by_ids(client: httpx.AsyncClient, ns: str) -> None:
    await create(client, flow_yaml(ns, "f1"))
    ids = [{"namespace": ns, "id": "f1"}, {"namespace": ns, "id": "missing"}]
    disabled = await client.post("/api/v1/flows/disable/by-ids", json=ids)
    assert disabled.status_code == 200
    assert disabled.json() == {"count": 1}
    flow = (await client.get(f"/api/v1/flows/{ns}/f1", params={"source": "true"})).json()
    assert flow["disabled"] is True
    assert "disabled: true" in flow["source"]
    enabled = await client.post("/api/v1/flows/enable/by-query", params={"namespace": ns})
    assert enabled.json() == {"count": 1}
    assert (await client.get(f"/api/v1/flows/{ns}/f1")).json()["disabled"] is False


async def test_bulk_ids_body_must_be_a_list_of_pairs(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/flows/disable/by-ids", json={"namespace": "x"})
    assert response.status_code == 422
    response = await client.post("/api/v1/flows/disable/by-ids", json=[{"namespace": "x"}])
    assert response.status_code == 422


async def test_delete_by_ids_and_by_query(client: httpx.AsyncClient, ns: str) -> None:
    for flow_id in ("d1", "d2", "d3"):
        await create(client, flow_yaml(ns, flow_id))
    by_ids = await client.request(
        "DELETE", "/api/v1/flows/delete/by-ids", json=[{"namespace": ns, "id": "d1"}]
    )
    assert by_ids.json() == {"count": 1}
    by_query = await client.delete("/api/v1/flows/delete/by-query", params={"namespace": ns})
    assert by_query.json() == {"count": 2}
    assert (await client.get(f"/api/v1/flows/{ns}")).json() == []


async def test_export_and_import_zip_round_trip(client: httpx.AsyncClient, ns: str) -> None:
    await create(client, flow_yaml(ns, "e1"))
    await create(client, flow_yaml(ns, "e2"))
    exported = await client.get("/api/v1/flows/export/by-query", params={"namespace": ns})
    assert exported.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    assert sorted(archive.namelist()) == [f"{ns}.e1.yml", f"{ns}.e2.yml"]
    assert archive.read(f"{ns}.e1.yml").decode() == flow_yaml(ns, "e1")
    by_ids = await client.post("/api/v1/flows/export/by-ids", json=[{"namespace": ns, "id": "e2"}])
    assert zipfile.ZipFile(io.BytesIO(by_ids.content)).namelist() == [f"{ns}.e2.yml"]

    target = ns + ".copy"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        out.writestr("a.yml", flow_yaml(target, "i1"))
        out.writestr("b.yaml", "id: broken\n")
    imported = await client.post(
        "/api/v1/flows/import", files={"fileUpload": ("flows.zip", buffer.getvalue())}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json() == ["b.yaml"]
    assert (await client.get(f"/api/v1/flows/{target}/i1")).status_code == 200


async def test_import_yaml_and_bad_uploads(client: httpx.AsyncClient, ns: str) -> None:
    body = (flow_yaml(ns, "y1") + "---\n" + flow_yaml(ns, "y2")).encode()
    imported = await client.post("/api/v1/flows/import", files={"fileUpload": ("flows.yaml", body)})
    assert imported.json() == []
    assert len((await client.get(f"/api/v1/flows/{ns}")).json()) == 2
    wrong = await client.post("/api/v1/flows/import", files={"fileUpload": ("x.txt", b"x")})
    assert wrong.status_code == 422
    missing = await client.post("/api/v1/flows/import", files={"other": ("x.yml", b"x")})
    assert missing.status_code == 400


async def test_distinct_namespaces(client: httpx.AsyncClient, ns: str) -> None:
    await create(client, flow_yaml(ns + ".one"))
    await create(client, flow_yaml(ns + ".two"))
    response = await client.get("/api/v1/flows/distinct-namespaces", params={"q": ns})
    assert response.status_code == 200
    assert response.json() == [ns + ".one", ns + ".two"]
