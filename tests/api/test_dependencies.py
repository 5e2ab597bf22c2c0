"""Flow and namespace dependencies in Kestra's topology shape, and the namespace search."""

from __future__ import annotations

import httpx
import pytest
from tests.api.executions_support import deploy, log_flow

pytestmark = pytest.mark.asyncio


def parent(ns: str, child_ns: str) -> str:
    return (
        f"id: parent\nnamespace: {ns}\ntasks:\n"
        f"  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n"
        f"    namespace: {child_ns}\n    flowId: child\n"
        f"  - id: dynamic\n    type: io.kestra.plugin.core.flow.Subflow\n"
        f'    namespace: {ns}\n    flowId: "{{{{ inputs.x }}}}"\n'
    )


def listener(ns: str, child_ns: str) -> str:
    return (
        f"id: listener\nnamespace: {ns}\ntasks:\n"
        "  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        "triggers:\n  - id: on_child\n    type: io.kestra.plugin.core.trigger.Flow\n"
        "    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n"
        f"        namespace: {child_ns}\n        flowId: child\n"
    )


async def test_flow_dependencies_are_kestras_nodes_and_edges(
    api: httpx.AsyncClient, ns: str
) -> None:
    other = ns + ".other"
    await deploy(api, log_flow(other, "child"))
    await deploy(api, parent(ns, other))
    await deploy(api, listener(ns, other))
    await deploy(api, log_flow(ns, "alone"))
    body = (await api.get(f"/api/v1/flows/{other}/child/dependencies")).json()
    uid = {"parent": f"main_{ns}_parent", "listener": f"main_{ns}_listener", "child": f"main_{other}_child"}  # fmt: skip
    assert {n["uid"] for n in body["nodes"]} == set(uid.values())
    assert {"uid": uid["child"], "tenantId": "main", "namespace": other, "id": "child"} in body[
        "nodes"
    ]
    assert sorted(body["edges"], key=lambda e: e["relation"]) == [
        {"source": uid["parent"], "target": uid["child"], "relation": "FLOW_TASK"},
        {"source": uid["child"], "target": uid["listener"], "relation": "FLOW_TRIGGER"},
    ]
    downstream = (
        await api.get(
            f"/api/v1/flows/{other}/child/dependencies", params={"destinationOnly": "true"}
        )
    ).json()
    assert {n["id"] for n in downstream["nodes"]} == {"child", "listener"}
    alone = (await api.get(f"/api/v1/flows/{ns}/alone/dependencies")).json()
    assert alone == {
        "nodes": [{"uid": f"main_{ns}_alone", "tenantId": "main", "namespace": ns, "id": "alone"}],
        "edges": [],
    }
    assert (await api.get(f"/api/v1/flows/{ns}/missing/dependencies")).status_code == 404
    by_namespace = (await api.get(f"/api/v1/namespaces/{ns}/dependencies")).json()
    assert {n["id"] for n in by_namespace["nodes"]} == {"parent", "listener", "child", "alone"}
    assert len(by_namespace["edges"]) == 2


async def test_namespace_search(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, log_flow(ns, "a"))
    await deploy(api, log_flow(ns + ".sub", "b"))
    body = (await api.get("/api/v1/namespaces/search", params={"q": ns})).json()
    assert body["total"] == 2
    assert body["results"] == [
        {"id": ns, "deleted": False, "disabled": True},
        {"id": ns + ".sub", "deleted": False, "disabled": True},
    ]
    page = (
        await api.get("/api/v1/namespaces/search", params={"q": ns, "size": 1, "page": 2})
    ).json()
    assert page == {
        "results": [{"id": ns + ".sub", "deleted": False, "disabled": True}],
        "total": 2,
    }
    tenant = await api.get("/api/v1/main/namespaces/search", params={"q": ns})
    assert tenant.json()["total"] == 2


async def test_namespace_search_in_kestra_shape(api: httpx.AsyncClient, ns: str) -> None:
    """Kestra OSS lists each flow namespace's parents and its system namespace, every one
    ``disabled: true`` (Kestra's MCP server prints them "not created"), 10 a page by default."""
    await deploy(api, log_flow(f"{ns}.deep.er", "a"))
    body = (await api.get("/api/v1/namespaces/search", params={"q": ns.upper()})).json()
    assert [r["id"] for r in body["results"]] == [ns, f"{ns}.deep", f"{ns}.deep.er"]
    assert {r["disabled"] for r in body["results"]} == {True}
    parents = (await api.get("/api/v1/namespaces/search", params={"q": "io.lanner"})).json()
    assert "io" not in {r["id"] for r in parents["results"]}  # "io" does not contain q
    everything = (await api.get("/api/v1/namespaces/search", params={"size": 10_000})).json()
    ids = [r["id"] for r in everything["results"]]
    assert {"io", "io.lanner", ns, "system"} <= set(ids)
    assert ids == sorted(ids)
    assert len((await api.get("/api/v1/namespaces/search")).json()["results"]) == min(10, len(ids))
    for spelling in ("id,desc", "id:desc"):
        backwards = await api.get("/api/v1/namespaces/search", params={"q": ns, "sort": spelling})
        assert [r["id"] for r in backwards.json()["results"]] == [f"{ns}.deep.er", f"{ns}.deep", ns]
