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
        {"id": ns, "deleted": False},
        {"id": ns + ".sub", "deleted": False},
    ]
    page = (
        await api.get("/api/v1/namespaces/search", params={"q": ns, "size": 1, "page": 2})
    ).json()
    assert page == {"results": [{"id": ns + ".sub", "deleted": False}], "total": 2}
    tenant = await api.get("/api/v1/main/namespaces/search", params={"q": ns})
    assert tenant.json()["total"] == 2
