"""Refused at save: a flow whose tasks Lanner knows but cannot run here (no runtime) is a 422
naming each such type and its path, on create, update, validate, bulk update and import.
Triggers are still accepted (no trigger runtime exists yet)."""

from __future__ import annotations

import httpx
from tests.api.helpers import YAML, flow_yaml

TEMPLATE = "io.kestra.plugin.core.flow.Template"


def unrunnable(ns: str, flow_id: str = "unrunnable") -> str:
    return (
        f"id: {flow_id}\nnamespace: {ns}\n"
        "tasks:\n"
        "  - id: ok\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        "  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n"
        f"      - id: fetch\n        type: {TEMPLATE}\n        namespace: c\n        templateId: d\n"
        f"errors:\n  - id: purge\n    type: {TEMPLATE}\n    namespace: a\n    templateId: b\n"
    )


EXPECTED = {
    "tasks[1].tasks[0].type": TEMPLATE,
    "errors[0].type": TEMPLATE,
}


def assert_refused(response: httpx.Response, prefix: str = "") -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"].startswith("Invalid entity")
    errors = {e["path"]: e["message"] for e in body["_embedded"]["errors"]}
    for path, type_name in EXPECTED.items():
        assert type_name in errors[prefix + path]
        assert "not supported by this server" in errors[prefix + path]
        assert type_name in body["message"]
    assert len(errors) == len(EXPECTED)


async def test_create_and_update_refuse_tasks_without_runtime(
    client: httpx.AsyncClient, ns: str
) -> None:
    assert_refused(await client.post("/api/v1/flows", content=unrunnable(ns), headers=YAML))
    assert (await client.get(f"/api/v1/flows/{ns}/unrunnable")).status_code == 404
    assert (await client.post("/api/v1/flows", content=flow_yaml(ns), headers=YAML)).is_success
    updated = await client.put(
        f"/api/v1/flows/{ns}/hello", content=unrunnable(ns, "hello"), headers=YAML
    )
    assert_refused(updated)
    stored = (await client.get(f"/api/v1/flows/{ns}/hello")).json()
    assert stored["revision"] == 1


async def test_validate_reports_tasks_without_runtime_as_constraints(
    client: httpx.AsyncClient, ns: str
) -> None:
    body = flow_yaml(ns) + "---\n" + unrunnable(ns)
    response = await client.post("/api/v1/flows/validate", content=body, headers=YAML)
    assert response.status_code == 200
    results = response.json()
    assert "constraints" not in results[0]
    constraints = results[1]["constraints"]
    for path, type_name in EXPECTED.items():
        assert f"{path}: Task type {type_name}" in constraints
    assert results[1]["flow"] == "unrunnable"


async def test_bulk_update_and_import_refuse_tasks_without_runtime(
    client: httpx.AsyncClient, ns: str
) -> None:
    body = flow_yaml(ns) + "---\n" + unrunnable(ns)
    assert_refused(await client.post("/api/v1/flows/bulk", content=body, headers=YAML), "[1].")
    assert (await client.get(f"/api/v1/flows/{ns}/hello")).status_code == 404
    imported = await client.post(
        "/api/v1/flows/import", files={"fileUpload": ("flows.yaml", body.encode())}
    )
    assert imported.status_code == 200
    assert imported.json() == ["flows.yaml[1]"]
    assert (await client.get(f"/api/v1/flows/{ns}/hello")).status_code == 200
    assert (await client.get(f"/api/v1/flows/{ns}/unrunnable")).status_code == 404


async def test_triggers_and_runnable_tasks_are_accepted(client: httpx.AsyncClient, ns: str) -> None:
    source = flow_yaml(ns) + (
        "triggers:\n  - id: nightly\n    type: io.kestra.plugin.core.trigger.Schedule\n"
        "    cron: '0 2 * * *'\n"
    )
    response = await client.post("/api/v1/flows", content=source, headers=YAML)
    assert response.status_code == 200, response.text
