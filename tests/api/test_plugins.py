"""Plugins API: the registered types (Kestra's ``GET /plugins``) and one type's JSON schema
(``GET /plugins/{cls}``), which the editor's completion reads."""

from __future__ import annotations

import httpx
import jsonschema
import pytest

pytestmark = pytest.mark.asyncio


async def test_plugin_list_names_tasks_triggers_and_conditions(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/plugins")
    assert response.status_code == 200
    core = next(p for p in response.json() if p["group"] == "io.kestra.plugin.core")
    assert "io.kestra.plugin.core.log.Log" in core["tasks"]
    assert "io.kestra.plugin.core.trigger.Schedule" in core["triggers"]
    assert "io.kestra.plugin.core.condition.ExecutionStatus" in core["conditions"]
    assert "io.kestra.plugin.core.log.Log" not in core["triggers"]
    assert "io.kestra.core.tasks.log.Log" in core["aliases"]
    tenant = await api.get("/api/v1/main/plugins")
    assert tenant.json() == response.json()


async def test_a_type_schema_lists_its_properties(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/plugins/io.kestra.plugin.core.log.Log")
    assert response.status_code == 200
    body = response.json()
    properties = body["schema"]["properties"]
    assert {"id", "type", "message", "level"} <= set(properties["properties"])
    assert "id" in properties["required"]
    assert body["markdown"].startswith("# io.kestra.plugin.core.log.Log")
    # the $refs point into "definitions", so the schema validates a task on its own
    schema = {**properties, "definitions": body["schema"]["definitions"]}
    assert '"#/$defs/' not in response.text
    task = {"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "hi"}
    jsonschema.validate(task, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**task, "retry": {"type": "constant"}}, schema)


async def test_an_alias_resolves_and_an_unknown_type_is_404(api: httpx.AsyncClient) -> None:
    alias = await api.get("/api/v1/plugins/io.kestra.core.tasks.log.Log")
    assert alias.status_code == 200
    assert alias.json()["schema"]["properties"]["title"] == "Log"
    missing = await api.get("/api/v1/plugins/io.nope.Nothing")
    assert missing.status_code == 404
    assert "io.nope.Nothing" in missing.json()["message"]
