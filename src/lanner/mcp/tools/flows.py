"""Tools for flows: search, source, create or update (problems as data), delete, enable.

Must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import yaml

from lanner.mcp import schemas as s
from lanner.mcp.backend import Backend, BackendError
from lanner.mcp.tools.base import (
    BOUNDED,
    MAX_SOURCE_CHARS,
    MAX_SOURCE_INPUT_CHARS,
    Args,
    Bounds,
    Result,
    ToolInputError,
    ToolSpec,
    flow_summary,
    int_arg,
    opt_arg,
    page_of,
    str_arg,
)

# --- flows ------------------------------------------------------------------------------------


async def search_flows(api: Backend, args: Args) -> Result:
    page, size = int_arg(args, "page", 1, 1, 10**6), int_arg(args, "size", 20, 1, s.MAX_PAGE_SIZE)
    found = await api.search_flows(opt_arg(args, "q"), opt_arg(args, "namespace"), page, size)
    items = [flow_summary(flow) for flow in found.get("results") or []]
    return Bounds().stamp(page_of(found, items, page, size))


async def get_flow(api: Backend, args: Args) -> Result:
    flow = await api.get_flow(str_arg(args, "namespace"), str_arg(args, "id"))
    bounds = Bounds()
    source = bounds.text(str(flow.get("source") or ""), MAX_SOURCE_CHARS, "the source")
    return bounds.stamp({**flow_summary(flow), "source": source})


def _identity(source: str) -> tuple[str | None, str | None, list[Result]]:
    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError as error:
        return None, None, [{"path": "source", "message": f"not valid YAML: {error}"}]
    if not isinstance(document, dict):
        return None, None, [{"path": "source", "message": "a flow is a YAML mapping"}]
    problems = [
        {"path": key, "message": "required (a string)"}
        for key in ("id", "namespace")
        if not isinstance(document.get(key), str) or not document.get(key)
    ]
    return document.get("namespace"), document.get("id"), problems


async def save_flow(api: Backend, args: Args) -> Result:
    source = str_arg(args, "source")
    if len(source) > MAX_SOURCE_INPUT_CHARS:
        raise ToolInputError(f"'source' is limited to {MAX_SOURCE_INPUT_CHARS} characters")
    namespace, flow_id, problems = _identity(source)
    if problems or namespace is None or flow_id is None:
        return {"saved": False, "flow": None, "problems": problems}
    try:
        flow = await api.save_flow(source, namespace, flow_id)
    except BackendError as error:
        if not error.details or error.status not in (None, 422):
            raise
        found = [{"path": path, "message": message} for path, message in error.details]
        return {"saved": False, "flow": None, "problems": found, "message": error.message}
    return {"saved": True, "flow": flow_summary(flow), "problems": []}


async def delete_flow(api: Backend, args: Args) -> Result:
    namespace, flow_id = str_arg(args, "namespace"), str_arg(args, "id")
    await api.delete_flow(namespace, flow_id)
    return {"namespace": namespace, "id": flow_id, "deleted": True}


async def set_flow_enabled(api: Backend, args: Args) -> Result:
    namespace, flow_id = str_arg(args, "namespace"), str_arg(args, "id")
    enabled = args.get("enabled")
    if not isinstance(enabled, bool):
        raise ToolInputError("'enabled' is required (true or false)")
    await api.get_flow(namespace, flow_id)  # Kestra's 404 for an unknown flow
    changed = await api.set_flow_disabled(namespace, flow_id, not enabled)
    return {"namespace": namespace, "id": flow_id, "enabled": enabled, "changed": changed > 0}


_NS_ID = {"namespace": s.NAMESPACE, "id": s.FLOW_ID}
_DONE = s.obj({"namespace": s.STRING, "id": s.STRING, "deleted": s.BOOLEAN}, closed=False)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "search_flows",
        "Search flows",
        "List flows, optionally filtered by a text (q: part of the id or namespace) and a "
        "namespace (with its children); paged.",
        s.obj({"q": s.STRING, "namespace": s.NAMESPACE, "page": s.PAGE, "size": s.SIZE}),
        s.paged(s.FLOW_SUMMARY),
        search_flows,
        read_only=True,
    ),
    ToolSpec(
        "get_flow",
        "Get a flow's source",
        "A flow's YAML source and metadata.",
        s.obj(_NS_ID, "namespace", "id"),
        s.obj(
            {**s.FLOW_SUMMARY["properties"], "source": s.STRING, **BOUNDED},
            "source",
            "truncated",
            closed=False,
        ),
        get_flow,
        read_only=True,
    ),
    ToolSpec(
        "save_flow",
        "Create or update a flow",
        "Create or update a flow from its YAML source (its id and namespace are read from it). "
        "An invalid flow is not saved: the answer lists every problem (saved: false).",
        s.obj({"source": {**s.STRING, "description": "the flow's YAML"}}, "source"),
        s.obj(
            {
                "saved": s.BOOLEAN,
                "flow": {"anyOf": [s.FLOW_SUMMARY, {"type": "null"}]},
                "problems": s.array(s.PROBLEM),
                "message": s.OPTIONAL_STRING,
            },
            "saved",
            "problems",
            closed=False,
        ),
        save_flow,
    ),
    ToolSpec(
        "delete_flow",
        "Delete a flow",
        "Delete a flow (its executions stay).",
        s.obj(_NS_ID, "namespace", "id"),
        _DONE,
        delete_flow,
        destructive=True,
    ),
    ToolSpec(
        "set_flow_enabled",
        "Enable or disable a flow",
        "Enable (enabled: true) or disable a flow; a disabled flow cannot be run.",
        s.obj({**_NS_ID, "enabled": s.BOOLEAN}, "namespace", "id", "enabled"),
        s.obj(
            {"namespace": s.STRING, "id": s.STRING, "enabled": s.BOOLEAN, "changed": s.BOOLEAN},
            closed=False,
        ),
        set_flow_enabled,
    ),
)
