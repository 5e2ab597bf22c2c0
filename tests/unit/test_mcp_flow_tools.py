"""McpToolTrigger flows as tools, decided from the flow's JSON alone; every tool's schemas are
valid JSON Schema."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp.server.subscriptions import InMemorySubscriptionBus, ToolsListChanged

from lanner.mcp.flow_tools import fingerprint, flow_tool, flow_tools, input_schema
from lanner.mcp.server import ToolCatalog, ToolWatch
from lanner.mcp.tools import TOOLS, TOOLS_BY_NAME

TRIGGER = "io.kestra.plugin.core.trigger.McpToolTrigger"


def flow(**extra: Any) -> dict[str, Any]:
    return {
        "namespace": "company.team",
        "id": "hello",
        "inputs": [
            {"id": "user", "type": "STRING", "defaults": "John", "description": "who"},
            {"id": "count", "type": "INT"},
            {"id": "mode", "type": "SELECT", "values": ["fast", "slow"], "required": False},
            {"id": "tags", "type": "ARRAY", "itemType": "INT"},
            {"id": "when", "type": "DATETIME"},
            {"id": "payload", "type": "JSON"},
        ],
        "outputs": [{"id": "result", "type": "STRING", "value": "{{ x }}"}],
        "triggers": [{"id": "mcp", "type": TRIGGER, "toolName": "hello_world", **extra}],
    }


def test_input_schema_from_the_flows_inputs() -> None:
    tool = flow_tool(flow())
    assert tool is not None
    assert tool.name == "hello_world"
    schema = tool.input_schema
    assert schema["required"] == ["count", "tags", "when", "payload"]
    assert schema["additionalProperties"] is False
    assert schema["properties"] == {
        "user": {"type": "string", "description": "who", "default": "John"},
        "count": {"type": "integer"},
        "mode": {"type": "string", "enum": ["fast", "slow"]},
        "tags": {"type": "array", "items": {"type": "integer"}},
        "when": {"type": "string", "format": "date-time"},
        "payload": {},
    }
    outputs = tool.output_schema["properties"]["outputs"]["properties"]
    assert outputs == {"result": {"type": "string"}}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("FLOAT", "number"), ("BOOLEAN", "boolean"), ("SECRET", "string"), ("URI", "string")],
)
def test_scalar_kinds(kind: str, expected: str) -> None:
    assert input_schema({"id": "x", "type": kind})["type"] == expected


def test_which_flows_are_tools() -> None:
    assert flow_tool(flow(disabled=True)) is None
    assert flow_tool(flow(mcpServer="analytics")) is None
    assert flow_tool({**flow(), "disabled": True}) is None
    assert flow_tool({**flow(), "triggers": []}) is None
    unnamed = flow_tool({**flow(), "triggers": [{"id": "mcp", "type": TRIGGER}]})
    assert unnamed is not None
    assert unnamed.name == "hello"
    assert unnamed.description == "Runs the flow company.team.hello and answers its outputs."


def test_taken_names_are_skipped() -> None:
    clash = {**flow(), "triggers": [{"id": "m", "type": TRIGGER, "toolName": "run_flow"}]}
    twin = {**flow(), "id": "zzz"}
    found = flow_tools([twin, flow(), clash], TOOLS_BY_NAME)
    assert [(t.name, t.meta["io.kestra/flow"]["id"]) for t in found] == [("hello_world", "hello")]
    assert fingerprint(found) != fingerprint([])
    renamed = flow_tools([flow(toolDescription="other")], ())
    assert fingerprint(renamed) != fingerprint(found)


@pytest.mark.parametrize("tool", [*TOOLS, flow_tool(flow())], ids=lambda t: t.name)
def test_schemas_are_valid_json_schema(tool: Any) -> None:
    Draft202012Validator.check_schema(tool.input_schema)
    Draft202012Validator.check_schema(tool.output_schema)
    assert tool.output_schema["type"] == "object"


class Flows:
    """A backend that only knows its flows (the watch reads nothing else)."""

    def __init__(self) -> None:
        self.flows: list[dict[str, Any]] = []
        self.version = 0

    async def flows_version(self) -> int:
        return self.version

    async def all_flows(self) -> list[dict[str, Any]]:
        return self.flows


async def test_the_watch_tells_when_a_tool_list_changed() -> None:
    backend = Flows()
    bus = InMemorySubscriptionBus()
    events: list[object] = []
    bus.subscribe(events.append)
    catalog = ToolCatalog()
    watch = ToolWatch(catalog, bus, lambda _: backend)  # type: ignore[arg-type,return-value]
    assert len(await catalog.tools("main", backend)) == len(TOOLS)  # type: ignore[arg-type]
    assert await watch.check() is False
    backend.flows, backend.version = [flow()], 1  # a tool flow deployed
    assert await watch.check() is True
    assert [type(e) for e in events] == [ToolsListChanged]
    backend.flows, backend.version = [{**flow(), "labels": {"a": "b"}}], 2  # not the tool's
    assert await watch.check() is False
    backend.flows, backend.version = [], 3  # seen by a request first: the watch still tells
    await catalog.tools("main", backend)  # type: ignore[arg-type]
    assert await watch.check() is True
    assert len(events) == 2
