"""Flows API: create, get, update, delete, revisions, list — success and error paths."""

from __future__ import annotations

import httpx
import pytest
from tests.api.helpers import YAML, flow_yaml

pytestmark = pytest.mark.asyncio


async def test_create_returns_flow_with_source(client: httpx.AsyncClient, ns: str) -> None:
    source = flow_yaml(ns, labels="{team: data}")
    response = await client.post("/api/v1/flows", content=source, headers=YAML)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "hello"
    assert body["namespace"] == ns
    assert body["revision"] == 1
    assert body["source"] == source
    assert body["tenantId"] == "main"
    assert body["deleted"] is False
    assert body["disabled"] is False
    assert body["labels"] == [{"key": "team", "value": "data"}]
    assert body["tasks"][0]["id"] == "say"
    assert body["tasks"][0]["type"] == "io.kestra.plugin.core.log.Log"
    assert body["tasks"][0]["message"] == "Hello"


async def test_create_twice_is_422(client: httpx.AsyncClient, ns: str) -> None:
    assert (await client.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)).is_success
    response = await client.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)
    assert response.status_code == 422
    body = response.json()
    assert "Flow id already exists" in body["message"]
    assert body["_embedded"]["errors"][0]["path"] == "flow.id"


async def test_create_invalid_flow_is_422_naming_the_path(
    client: httpx.AsyncClient, ns: str
) -> None:
    source = f"id: bad\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.nope.Task\n"
    response = await client.post("/api/v1/flows", content=source, headers=YAML)
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith("Invalid entity")
    errors = body["_embedded"]["errors"]
    assert any("tasks[0]" in e["path"] and "io.kestra.nope.Task" in e["message"] for e in errors)


@pytest.mark.parametrize(
    "source",
    [
        "",
        "id: x\n",
        "just a string",
        "id: [unclosed\n",
        "id: dup\nid: dup\nnamespace: a\ntasks: []\n",
    ],
)
async def test_create_malformed_is_422(client: httpx.AsyncClient, source: str) -> None:
    response = await client.post("/api/v1/flows", content=source, headers=YAML)
    assert response.status_code == 422, response.text
    assert response.json()["message"]


async def test_create_from_json_body(client: httpx.AsyncClient, ns: str) -> None:
    flow = {
        "id": "json-flow",
        "namespace": ns,
        "tasks": [{"id": "r", "type": "io.kestra.plugin.core.debug.Return", "format": "x"}],
    }
    response = await client.post("/api/v1/flows", json=flow)
    assert response.status_code == 200, response.text
    assert response.json()["tasks"][0]["format"] == "x"
    assert "json-flow" in response.json()["source"]


async def test_get_flow_with_and_without_source(client: httpx.AsyncClient, ns: str) -> None:
    await client.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)
    plain = await client.get(f"/api/v1/flows/{ns}/hello")
    assert plain.status_code == 200
    assert "source" not in plain.json()
    assert plain.json()["revision"] == 1
    with_source = await client.get(f"/api/v1/flows/{ns}/hello", params={"source": "true"})
    assert with_source.json()["source"] == flow_yaml(ns)


async def test_get_unknown_flow_is_404_with_kestra_body(client: httpx.AsyncClient, ns: str) -> None:
    response = await client.get(f"/api/v1/flows/{ns}/missing")
    assert response.status_code == 404
    body = response.json()
    assert body["message"].startswith("Not Found")
    assert body["_links"]["self"]["href"] == f"/api/v1/flows/{ns}/missing"


async def test_bad_query_parameter_type_is_400(client: httpx.AsyncClient, ns: str) -> None:
    await client.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)
    response = await client.get(f"/api/v1/flows/{ns}/hello", params={"revision": "abc"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Bad Request")


async def test_put_creates_then_updates_with_revisions(client: httpx.AsyncClient, ns: str) -> None:
    url = f"/api/v1/flows/{ns}/hello"
    first = await client.put(url, content=flow_yaml(ns), headers=YAML)
    assert first.status_code == 200, first.text
    assert first.json()["revision"] == 1
    same = await client.put(url, content=flow_yaml(ns), headers=YAML)
    assert same.json()["revision"] == 1, "an identical source adds no revision"
    second = await client.put(url, content=flow_yaml(ns, message="Bye"), headers=YAML)
    assert second.json()["revision"] == 2
    assert second.json()["tasks"][0]["message"] == "Bye"
    old = await client.get(url, params={"revision": 1, "source": "true"})
    assert old.json()["tasks"][0]["message"] == "Hello"
    revisions = await client.get(url + "/revisions")
    assert [r["revision"] for r in revisions.json()] == [1, 2]
    assert revisions.json()[0]["source"] == flow_yaml(ns)


async def test_put_with_other_id_or_namespace_is_422(client: httpx.AsyncClient, ns: str) -> None:
    wrong_id = await client.put(f"/api/v1/flows/{ns}/other", content=flow_yaml(ns), headers=YAML)
    assert wrong_id.status_code == 422
    assert "Illegal flow id update" in wrong_id.json()["message"]
    wrong_ns = await client.put(f"/api/v1/flows/{ns}.x/hello", content=flow_yaml(ns), headers=YAML)
    assert wrong_ns.status_code == 422
    assert "Illegal namespace update" in wrong_ns.json()["message"]
    assert (await client.get(f"/api/v1/flows/{ns}/other")).status_code == 404


async def test_put_invalid_keeps_previous_revision(client: httpx.AsyncClient, ns: str) -> None:
    url = f"/api/v1/flows/{ns}/hello"
    await client.put(url, content=flow_yaml(ns), headers=YAML)
    broken = flow_yaml(ns) + "unknownProperty: 1\n"
    response = await client.put(url, content=broken, headers=YAML)
    assert response.status_code == 422
    assert any(
        "unknownProperty" in e["path"] + e["message"]
        for e in response.json()["_embedded"]["errors"]
    )
    assert (await client.get(url)).json()["revision"] == 1


async def test_delete_is_soft_and_404_after(client: httpx.AsyncClient, ns: str) -> None:
    url = f"/api/v1/flows/{ns}/hello"
    await client.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)
    deleted = await client.delete(url)
    assert deleted.status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404
    kept = await client.get(url, params={"allowDeleted": "true"})
    assert kept.status_code == 200
    assert kept.json()["deleted"] is True
    assert kept.json()["revision"] == 2
    recreated = await client.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)
    assert recreated.status_code == 200
    assert recreated.json()["revision"] == 3


async def test_delete_unknown_is_404(client: httpx.AsyncClient, ns: str) -> None:
    assert (await client.delete(f"/api/v1/flows/{ns}/nothing")).status_code == 404


async def test_list_by_namespace_excludes_deleted(client: httpx.AsyncClient, ns: str) -> None:
    for flow_id in ("b-flow", "a-flow", "c-flow"):
        await client.post("/api/v1/flows", content=flow_yaml(ns, flow_id), headers=YAML)
    await client.delete(f"/api/v1/flows/{ns}/c-flow")
    response = await client.get(f"/api/v1/flows/{ns}")
    assert response.status_code == 200
    assert [f["id"] for f in response.json()] == ["a-flow", "b-flow"]
    assert (await client.get(f"/api/v1/flows/{ns}.empty")).json() == []


async def test_get_task_of_flow(client: httpx.AsyncClient, ns: str) -> None:
    await client.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)
    task = await client.get(f"/api/v1/flows/{ns}/hello/tasks/say")
    assert task.status_code == 200
    assert task.json()["message"] == "Hello"
    assert (await client.get(f"/api/v1/flows/{ns}/hello/tasks/nope")).status_code == 404


async def test_revisions_of_unknown_flow_is_404(client: httpx.AsyncClient, ns: str) -> None:
    assert (await client.get(f"/api/v1/flows/{ns}/nope/revisions")).status_code == 404


async def test_tenant_prefixed_paths_share_main(client: httpx.AsyncClient, ns: str) -> None:
    created = await client.post("/api/v1/main/flows", content=flow_yaml(ns), headers=YAML)
    assert created.status_code == 200
    assert created.json()["tenantId"] == "main"
    assert (await client.get(f"/api/v1/flows/{ns}/hello")).status_code == 200
    assert (await client.get(f"/api/v1/main/flows/{ns}/hello")).status_code == 200


async def test_other_tenant_is_isolated(client: httpx.AsyncClient, ns: str) -> None:
    created = await client.post("/api/v1/acme/flows", content=flow_yaml(ns), headers=YAML)
    assert created.status_code == 200
    assert created.json()["tenantId"] == "acme"
    assert (await client.get(f"/api/v1/flows/{ns}/hello")).status_code == 404
    assert (await client.get(f"/api/v1/acme/flows/{ns}/hello")).status_code == 200


async def test_reserved_tenant_name_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/logs/flows/search")
    assert response.status_code == 404
