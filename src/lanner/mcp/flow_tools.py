"""Flows with an ``McpToolTrigger`` as tools: schemas from the flow's inputs and outputs.

A flow whose (enabled) ``io.kestra.plugin.core.trigger.McpToolTrigger`` names ``mcpServer``
``default`` (its default) is a tool called ``toolName`` (the flow id when absent). Its input
schema comes from the flow's inputs (types, required, defaults, descriptions, enum values), its
result is the flow's outputs: a call runs the flow, waits for its end and answers
``{executionId, state, outputs}``; the execution carries the label ``system.from: mcp``. A tool
name already taken (a built-in tool, another flow) is skipped. Must not import ``api``,
``engine`` or ``store``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from lanner.domain.states import TERMINATED
from lanner.mcp import schemas as s
from lanner.mcp.backend import Backend, BackendError
from lanner.mcp.tools import Args, Bounds, Result, ToolSpec, execution_summary

TRIGGER_TYPE = "io.kestra.plugin.core.trigger.McpToolTrigger"
DEFAULT_SERVER = "default"
MCP_LABELS = {"system.from": "mcp"}
TOOL_NAME = re.compile(r"[^A-Za-z0-9_.-]")
ENDED_OK = frozenset({"SUCCESS", "WARNING"})
ENDED = frozenset(state.value for state in TERMINATED)

_STRING_FORMATS = {
    "DATETIME": "date-time",
    "DATE": "date",
    "TIME": "time",
    "DURATION": "duration",
    "EMAIL": "email",
    "URI": "uri",
}
_SCALARS = {
    "INT": "integer",
    "FLOAT": "number",
    "BOOLEAN": "boolean",
    "BOOL": "boolean",
}


def _mcp_trigger(flow: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for trigger in flow.get("triggers") or []:
        if (
            isinstance(trigger, Mapping)
            and trigger.get("type") == TRIGGER_TYPE
            and not trigger.get("disabled")
            and str(trigger.get("mcpServer") or DEFAULT_SERVER) == DEFAULT_SERVER
        ):
            return trigger
    return None


def input_schema(input_: Mapping[str, Any]) -> s.Schema:
    """The JSON Schema of one Kestra input (its type, values, default, description)."""
    kind = str(input_.get("type") or "STRING").upper()
    schema: s.Schema
    if kind in _SCALARS:
        schema = {"type": _SCALARS[kind]}
    elif kind in ("SELECT", "ENUM"):
        schema = {"type": "string"}
        values = input_.get("values")
        if isinstance(values, list) and values:
            schema["enum"] = [str(v) for v in values]
    elif kind in ("MULTISELECT", "ARRAY"):
        item = str(input_.get("itemType") or "STRING").upper()
        items: s.Schema = {"type": _SCALARS.get(item, "string")}
        values = input_.get("values") or input_.get("options")
        if kind == "MULTISELECT" and isinstance(values, list) and values:
            items["enum"] = [str(v) for v in values]
        schema = {"type": "array", "items": items}
    elif kind in ("JSON", "YAML"):
        schema = {}
    else:  # STRING, SECRET, FILE (its URI) and the dated kinds
        schema = {"type": "string"}
        if kind in _STRING_FORMATS:
            schema["format"] = _STRING_FORMATS[kind]
    description = input_.get("description") or input_.get("displayName")
    if description:
        schema["description"] = str(description)
    if input_.get("defaults") is not None:
        schema["default"] = input_["defaults"]
    return schema


def _is_required(input_: Mapping[str, Any]) -> bool:
    # Kestra: inputs are required unless they say otherwise; a default answers for the caller.
    return input_.get("required", True) is not False and input_.get("defaults") is None


def flow_input_schema(flow: Mapping[str, Any]) -> s.Schema:
    properties: dict[str, s.Schema] = {}
    required: list[str] = []
    for input_ in flow.get("inputs") or []:
        if not isinstance(input_, Mapping) or not input_.get("id"):
            continue
        name = str(input_["id"])
        properties[name] = input_schema(input_)
        if _is_required(input_):
            required.append(name)
    return s.obj(properties, *required)


def flow_output_schema(flow: Mapping[str, Any]) -> s.Schema:
    outputs: dict[str, s.Schema] = {}
    for output in flow.get("outputs") or []:
        if isinstance(output, Mapping) and output.get("id"):
            schema = input_schema({**output, "defaults": None})
            outputs[str(output["id"])] = schema
    return s.obj(
        {
            "executionId": s.STRING,
            "state": s.STRING,
            "outputs": s.obj(outputs, closed=False),
            "truncated": s.TRUNCATED,
            "note": s.NOTE,
        },
        "executionId",
        "state",
        "outputs",
        closed=False,
    )


def flow_tool(flow: Mapping[str, Any]) -> ToolSpec | None:
    """The tool of ``flow``, or None when it has no (enabled, default-server) McpToolTrigger."""
    trigger = _mcp_trigger(flow)
    if trigger is None or flow.get("disabled") or flow.get("deleted"):
        return None
    namespace, flow_id = str(flow.get("namespace")), str(flow.get("id"))
    name = TOOL_NAME.sub("_", str(trigger.get("toolName") or flow_id))[:128]
    description = (
        trigger.get("toolDescription")
        or flow.get("description")
        or f"Runs the flow {namespace}.{flow_id} and answers its outputs."
    )

    async def run(api: Backend, args: Args) -> Result:
        execution = await api.run_flow(namespace, flow_id, dict(args), MCP_LABELS, wait=True)
        bounds = Bounds()
        summary = execution_summary(execution, bounds)
        state = summary["state"]
        if state not in ENDED_OK:
            ended = state in ENDED
            raise BackendError(
                f"Execution {summary['id']} of {namespace}.{flow_id} "
                + (f"ended {state}" if ended else f"is still {state}: see get_execution")
            )
        return bounds.stamp(
            {
                "executionId": summary["id"],
                "state": summary["state"],
                "outputs": summary["outputs"] or {},
            }
        )

    return ToolSpec(
        name,
        str(trigger.get("title") or name),
        str(description),
        flow_input_schema(flow),
        flow_output_schema(flow),
        run,
        meta={"io.kestra/flow": {"namespace": namespace, "id": flow_id}},
    )


def flow_tools(flows: Iterable[Mapping[str, Any]], taken: Iterable[str]) -> list[ToolSpec]:
    """The tools of ``flows`` (sorted by namespace and id), minus names already ``taken``."""
    names = set(taken)
    found = []
    for flow in sorted(flows, key=lambda f: (str(f.get("namespace")), str(f.get("id")))):
        tool = flow_tool(flow)
        if tool is not None and tool.name not in names:
            names.add(tool.name)
            found.append(tool)
    return found


def fingerprint(tools: Iterable[ToolSpec]) -> str:
    """Changes when a tool's name, title, description or schemas change."""
    digest = hashlib.sha256()
    for tool in tools:
        parts = [tool.name, tool.title, tool.description, tool.input_schema, tool.output_schema]
        digest.update(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()
