"""Kestra's operations as MCP tools: names, schemas, bounds and results, defined once.

Both servers (built-in over HTTP, ``lanner mcp`` over stdio) list these tools and run them over
a :class:`~lanner.mcp.backend.Backend`. Every answer is an object matching the tool's output
schema, bounded: lists come in pages (``nextPage``/``nextCursor``), long texts and large values
are cut, and ``truncated``/``note`` say so. Must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from lanner.mcp import schemas as s
from lanner.mcp.backend import Backend, BackendError

MAX_SOURCE_CHARS = 200_000
MAX_VALUE_CHARS = 20_000
"""A value (outputs, inputs, a KV value) longer than this as JSON is replaced by a preview."""
MAX_TASK_RUNS = 200
MAX_LOG_LINES = 500
DEFAULT_LOG_LINES = 100
MAX_LOG_MESSAGE_CHARS = 4_000
MAX_FILE_BYTES = 1_000_000
MAX_SOURCE_INPUT_CHARS = 3 * 1024 * 1024

Args = Mapping[str, Any]
Result = dict[str, Any]
Run = Callable[[Backend, Args], Awaitable[Result]]


class ToolInputError(Exception):
    """The arguments do not say what to do (a missing or ill-typed argument)."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: what an agent sees (name, schemas, hints) and what it runs."""

    name: str
    title: str
    description: str
    input_schema: s.Schema
    output_schema: s.Schema
    run: Run
    read_only: bool = False
    destructive: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)


# --- bounding -------------------------------------------------------------------------------


class Bounds:
    """Collects what an answer had to cut, for its ``truncated`` flag and ``note``."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def value(self, value: Any, what: str) -> Any:
        if value is None:
            return None
        text = orjson.dumps(value, default=str).decode()
        if len(text) <= MAX_VALUE_CHARS:
            return value
        self.notes.append(f"{what} was {len(text)} characters of JSON, cut to {MAX_VALUE_CHARS}")
        return {"truncatedPreview": text[:MAX_VALUE_CHARS]}

    def text(self, text: str, limit: int, what: str) -> str:
        if len(text) <= limit:
            return text
        self.notes.append(f"{what} was {len(text)} characters, cut to {limit}")
        return text[:limit]

    def stamp(self, result: Result) -> Result:
        result["truncated"] = bool(self.notes)
        result["note"] = "; ".join(self.notes) or None
        return result


def _int(args: Args, name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolInputError(f"'{name}' must be an integer")
    return max(low, min(high, value))


def _str(args: Args, name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise ToolInputError(f"'{name}' is required (a non-empty string)")
    return value


def _opt(args: Args, name: str) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ToolInputError(f"'{name}' must be a string")
    return value


def _map(args: Args, name: str) -> dict[str, Any]:
    value = args.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ToolInputError(f"'{name}' must be an object")
    return dict(value)


def _labels(args: Args, name: str = "labels") -> dict[str, str]:
    value = args.get(name)
    if value is None:
        return {}
    if isinstance(value, list):  # [{key, value}], Kestra's shape
        pairs = {}
        for item in value:
            if not isinstance(item, dict) or "key" not in item:
                raise ToolInputError(f"'{name}' must be an object of key: value")
            pairs[str(item["key"])] = str(item.get("value", ""))
        return pairs
    if not isinstance(value, dict):
        raise ToolInputError(f"'{name}' must be an object of key: value")
    return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()}


def _label_map(labels: Any) -> dict[str, str]:
    if isinstance(labels, list):
        return {str(item.get("key")): str(item.get("value")) for item in labels if item}
    if isinstance(labels, dict):
        return {str(k): str(v) for k, v in labels.items()}
    return {}


def _paged(page: dict[str, Any], items: list[Any], number: int, size: int) -> Result:
    total = int(page.get("total") or 0)
    more = number * size < total
    return {
        "results": items,
        "total": total,
        "page": number,
        "size": size,
        "nextPage": number + 1 if more else None,
    }


# --- shapes -----------------------------------------------------------------------------------


def flow_summary(flow: Mapping[str, Any]) -> Result:
    return {
        "namespace": flow.get("namespace"),
        "id": flow.get("id"),
        "revision": flow.get("revision"),
        "disabled": bool(flow.get("disabled")),
        "description": flow.get("description"),
        "labels": _label_map(flow.get("labels")),
    }


def execution_summary(execution: Mapping[str, Any], bounds: Bounds) -> Result:
    """An execution as an agent reads it: state, labels, inputs, outputs, task runs."""
    state = execution.get("state") or {}
    runs = list(execution.get("taskRunList") or [])
    if len(runs) > MAX_TASK_RUNS:
        bounds.notes.append(
            f"{len(runs)} task runs, the first {MAX_TASK_RUNS} shown "
            "(get_execution_outputs pages through them)"
        )
        runs = runs[:MAX_TASK_RUNS]
    return {
        "id": execution.get("id"),
        "namespace": execution.get("namespace"),
        "flowId": execution.get("flowId"),
        "flowRevision": execution.get("flowRevision"),
        "state": state.get("current"),
        "startDate": state.get("startDate"),
        "endDate": state.get("endDate"),
        "labels": _label_map(execution.get("labels")),
        "inputs": bounds.value(execution.get("inputs"), "inputs"),
        "outputs": bounds.value(execution.get("outputs"), "outputs"),
        "taskRuns": [
            {
                "id": run.get("id"),
                "taskId": run.get("taskId"),
                "value": run.get("value"),
                "state": (run.get("state") or {}).get("current"),
                "outputs": bounds.value(run.get("outputs"), f"outputs of {run.get('taskId')}"),
            }
            for run in runs
        ],
        "url": execution.get("url"),
    }


def _execution_result(execution: Mapping[str, Any]) -> Result:
    bounds = Bounds()
    return bounds.stamp(execution_summary(execution, bounds))


def _log_line(entry: Mapping[str, Any], bounds: Bounds) -> Result:
    message = str(entry.get("message") or "")
    if len(message) > MAX_LOG_MESSAGE_CHARS:
        bounds.notes.append(f"a log message was cut to {MAX_LOG_MESSAGE_CHARS} characters")
        message = message[:MAX_LOG_MESSAGE_CHARS]
    return {
        "timestamp": entry.get("timestamp"),
        "level": entry.get("level"),
        "executionId": entry.get("executionId"),
        "taskId": entry.get("taskId"),
        "taskRunId": entry.get("taskRunId"),
        "message": message,
    }


def _cursor(args: Args) -> int:
    raw = args.get("cursor")
    if raw in (None, ""):
        return 0
    try:
        offset = int(str(raw))
    except ValueError:
        raise ToolInputError("'cursor' must be a nextCursor of a previous answer") from None
    if offset < 0:
        raise ToolInputError("'cursor' must be a nextCursor of a previous answer")
    return offset


# --- flows ------------------------------------------------------------------------------------


async def search_flows(api: Backend, args: Args) -> Result:
    page, size = _int(args, "page", 1, 1, 10**6), _int(args, "size", 20, 1, s.MAX_PAGE_SIZE)
    found = await api.search_flows(_opt(args, "q"), _opt(args, "namespace"), page, size)
    items = [flow_summary(flow) for flow in found.get("results") or []]
    return Bounds().stamp(_paged(found, items, page, size))


async def get_flow(api: Backend, args: Args) -> Result:
    flow = await api.get_flow(_str(args, "namespace"), _str(args, "id"))
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
    source = _str(args, "source")
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
    namespace, flow_id = _str(args, "namespace"), _str(args, "id")
    await api.delete_flow(namespace, flow_id)
    return {"namespace": namespace, "id": flow_id, "deleted": True}


async def set_flow_enabled(api: Backend, args: Args) -> Result:
    namespace, flow_id = _str(args, "namespace"), _str(args, "id")
    enabled = args.get("enabled")
    if not isinstance(enabled, bool):
        raise ToolInputError("'enabled' is required (true or false)")
    await api.get_flow(namespace, flow_id)  # Kestra's 404 for an unknown flow
    changed = await api.set_flow_disabled(namespace, flow_id, not enabled)
    return {"namespace": namespace, "id": flow_id, "enabled": enabled, "changed": changed > 0}


# --- executions -------------------------------------------------------------------------------


async def run_flow(api: Backend, args: Args) -> Result:
    execution = await api.run_flow(
        _str(args, "namespace"),
        _str(args, "id"),
        _map(args, "inputs"),
        _labels(args),
        wait=bool(args.get("wait", False)),
    )
    return _execution_result(execution)


async def get_execution(api: Backend, args: Args) -> Result:
    return _execution_result(await api.get_execution(_str(args, "executionId")))


async def search_executions(api: Backend, args: Args) -> Result:
    page, size = _int(args, "page", 1, 1, 10**6), _int(args, "size", 20, 1, s.MAX_PAGE_SIZE)
    states = args.get("states") or []
    if not isinstance(states, list) or not all(isinstance(x, str) for x in states):
        raise ToolInputError("'states' must be a list of state names")
    found = await api.search_executions(
        _opt(args, "namespace"), _opt(args, "flowId"), states, _labels(args), page, size
    )
    bounds = Bounds()
    items = []
    for execution in found.get("results") or []:
        summary = execution_summary({**execution, "taskRunList": []}, bounds)
        del summary["taskRuns"]
        items.append(summary)
    return bounds.stamp(_paged(found, items, page, size))


async def kill_execution(api: Backend, args: Args) -> Result:
    return _execution_result(await api.kill(_str(args, "executionId")))


async def restart_execution(api: Backend, args: Args) -> Result:
    return _execution_result(await api.restart(_str(args, "executionId"), _opt(args, "taskRunId")))


async def replay_execution(api: Backend, args: Args) -> Result:
    return _execution_result(await api.replay(_str(args, "executionId"), _opt(args, "taskRunId")))


async def resume_execution(api: Backend, args: Args) -> Result:
    return _execution_result(await api.resume(_str(args, "executionId"), _map(args, "inputs")))


async def set_execution_labels(api: Backend, args: Args) -> Result:
    labels = _labels(args)
    if not labels:
        raise ToolInputError("'labels' is required (an object of key: value)")
    return _execution_result(await api.set_labels(_str(args, "executionId"), labels))


async def get_execution_outputs(api: Backend, args: Args) -> Result:
    execution_id = _str(args, "executionId")
    page, size = _int(args, "page", 1, 1, 10**6), _int(args, "size", 50, 1, s.MAX_PAGE_SIZE)
    execution = await api.get_execution(execution_id)
    runs = await api.outputs(execution_id)
    bounds = Bounds()
    start = (page - 1) * size
    items = [
        {
            "taskRunId": run.get("taskRunId"),
            "taskId": run.get("taskId"),
            "value": run.get("value"),
            "outputs": bounds.value(run.get("outputs"), f"outputs of {run.get('taskId')}"),
        }
        for run in runs[start : start + size]
    ]
    result = _paged({"total": len(runs)}, items, page, size)
    result["executionId"] = execution_id
    result["state"] = (execution.get("state") or {}).get("current")
    result["flowOutputs"] = bounds.value(execution.get("outputs"), "the flow's outputs")
    return bounds.stamp(result)


# --- logs -------------------------------------------------------------------------------------


async def tail_logs(api: Backend, args: Args) -> Result:
    execution_id = _str(args, "executionId")
    offset = _cursor(args)
    limit = _int(args, "limit", DEFAULT_LOG_LINES, 1, MAX_LOG_LINES)
    level = _opt(args, "minLevel")
    lines = await api.execution_logs(execution_id, level, offset + limit + 1)
    bounds = Bounds()
    shown = [_log_line(entry, bounds) for entry in lines[offset : offset + limit]]
    more = len(lines) > offset + limit
    execution = await api.get_execution(execution_id)
    state = (execution.get("state") or {}).get("current")
    if more:
        bounds.notes.append(f"more lines follow: call again with cursor {offset + limit}")
    return bounds.stamp(
        {
            "executionId": execution_id,
            "state": state,
            "lines": shown,
            # Where the next call starts: the end of these lines (more may be written later).
            "nextCursor": str(offset + len(shown)),
            "hasMore": more,
        }
    )


async def search_logs(api: Backend, args: Args) -> Result:
    page = _cursor(args) or 1
    size = _int(args, "size", DEFAULT_LOG_LINES, 1, s.MAX_PAGE_SIZE)
    found = await api.search_logs(
        _opt(args, "namespace"),
        _opt(args, "flowId"),
        _opt(args, "q"),
        _opt(args, "minLevel"),
        page,
        size,
    )
    bounds = Bounds()
    lines = [_log_line(entry, bounds) for entry in found.get("results") or []]
    total = int(found.get("total") or 0)
    more = page * size < total
    return bounds.stamp(
        {
            "lines": lines,
            "total": total,
            "nextCursor": str(page + 1) if more else None,
            "hasMore": more,
        }
    )


# --- KV and namespace files -----------------------------------------------------------------


async def kv_list(api: Backend, args: Args) -> Result:
    namespace = _str(args, "namespace")
    page, size = _int(args, "page", 1, 1, 10**6), _int(args, "size", 50, 1, s.MAX_PAGE_SIZE)
    entries = await api.kv_list(namespace)
    start = (page - 1) * size
    items = [
        {
            "key": entry.get("key"),
            "description": entry.get("description"),
            "updateDate": entry.get("updateDate"),
            "expirationDate": entry.get("expirationDate"),
        }
        for entry in entries[start : start + size]
    ]
    return Bounds().stamp(
        {**_paged({"total": len(entries)}, items, page, size), "namespace": namespace}
    )


async def kv_get(api: Backend, args: Args) -> Result:
    namespace, key = _str(args, "namespace"), _str(args, "key")
    found = await api.kv_get(namespace, key)
    bounds = Bounds()
    return bounds.stamp(
        {
            "namespace": namespace,
            "key": key,
            "type": found.get("type"),
            "value": bounds.value(found.get("value"), "the value"),
            "revision": found.get("revision"),
        }
    )


async def kv_set(api: Backend, args: Args) -> Result:
    namespace, key = _str(args, "namespace"), _str(args, "key")
    if "value" not in args or args["value"] is None:
        raise ToolInputError("'value' is required (null cannot be stored)")
    await api.kv_set(namespace, key, args["value"], _opt(args, "ttl"))
    return {"namespace": namespace, "key": key, "set": True}


async def kv_delete(api: Backend, args: Args) -> Result:
    namespace, key = _str(args, "namespace"), _str(args, "key")
    return {"namespace": namespace, "key": key, "deleted": await api.kv_delete(namespace, key)}


async def files_list(api: Backend, args: Args) -> Result:
    namespace = _str(args, "namespace")
    page, size = _int(args, "page", 1, 1, 10**6), _int(args, "size", 50, 1, s.MAX_PAGE_SIZE)
    entries = await api.files_list(namespace, _opt(args, "path"))
    start = (page - 1) * size
    items = [
        {"fileName": e.get("fileName"), "type": e.get("type"), "size": e.get("size")}
        for e in entries[start : start + size]
    ]
    result = _paged({"total": len(entries)}, items, page, size)
    return Bounds().stamp({**result, "namespace": namespace, "path": _opt(args, "path") or "/"})


async def file_read(api: Backend, args: Args) -> Result:
    namespace, path = _str(args, "namespace"), _str(args, "path")
    data = await api.file_read(namespace, path)
    bounds = Bounds()
    size = len(data)
    if size > MAX_FILE_BYTES:
        bounds.notes.append(f"the file has {size} bytes, the first {MAX_FILE_BYTES} shown")
        data = data[:MAX_FILE_BYTES]
    try:
        content, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        content, encoding = base64.b64encode(data).decode(), "base64"
    return bounds.stamp(
        {
            "namespace": namespace,
            "path": path,
            "size": size,
            "encoding": encoding,
            "content": content,
        }
    )


async def file_write(api: Backend, args: Args) -> Result:
    namespace, path = _str(args, "namespace"), _str(args, "path")
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolInputError("'content' is required (a string)")
    if args.get("encoding") == "base64":
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise ToolInputError("'content' is not valid base64") from None
    else:
        data = content.encode("utf-8")
    await api.file_write(namespace, path, data)
    return {"namespace": namespace, "path": path, "size": len(data), "written": True}


async def file_delete(api: Backend, args: Args) -> Result:
    namespace, path = _str(args, "namespace"), _str(args, "path")
    await api.file_delete(namespace, path)
    return {"namespace": namespace, "path": path, "deleted": True}


# --- the table ----------------------------------------------------------------------------


_NS_ID = {"namespace": s.NAMESPACE, "id": s.FLOW_ID}
_EXEC = {"executionId": s.EXECUTION_ID}
_DONE = s.obj({"namespace": s.STRING, "id": s.STRING, "deleted": s.BOOLEAN}, closed=False)
_KEY = {"namespace": s.NAMESPACE, "key": {**s.NAME, "description": "a KV key"}}
_PATH = {"namespace": s.NAMESPACE, "path": {**s.NAME, "description": "a path, e.g. /scripts/a.py"}}
_LOG_LINE = s.obj(
    {
        "timestamp": s.OPTIONAL_STRING,
        "level": s.OPTIONAL_STRING,
        "executionId": s.OPTIONAL_STRING,
        "taskId": s.OPTIONAL_STRING,
        "taskRunId": s.OPTIONAL_STRING,
        "message": s.STRING,
    },
    "message",
    closed=False,
)
_BOUNDED = {"truncated": s.TRUNCATED, "note": s.NOTE}

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
            {**s.FLOW_SUMMARY["properties"], "source": s.STRING, **_BOUNDED},
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
    ToolSpec(
        "run_flow",
        "Run a flow",
        "Start an execution of a flow with inputs (by input id) and labels; with wait: true, "
        "answer once it ended, with its outputs.",
        s.obj(
            {
                **_NS_ID,
                "inputs": {**s.OBJECT, "description": "input values by input id"},
                "labels": {**s.STRING_MAP, "description": "labels of the execution"},
                "wait": {**s.BOOLEAN, "default": False},
            },
            "namespace",
            "id",
        ),
        s.EXECUTION,
        run_flow,
    ),
    ToolSpec(
        "get_execution",
        "Get an execution",
        "An execution's state, inputs, outputs and task runs.",
        s.obj(_EXEC, "executionId"),
        s.EXECUTION,
        get_execution,
        read_only=True,
    ),
    ToolSpec(
        "search_executions",
        "Search executions",
        "Executions, newest first, filtered by namespace, flow, states and labels; paged.",
        s.obj(
            {
                "namespace": s.NAMESPACE,
                "flowId": s.FLOW_ID,
                "states": s.array(s.STRING),
                "labels": s.STRING_MAP,
                "page": s.PAGE,
                "size": s.SIZE,
            }
        ),
        s.paged(s.obj({"id": s.STRING, "state": s.STRING}, "id", "state", closed=False)),
        search_executions,
        read_only=True,
    ),
    ToolSpec(
        "kill_execution",
        "Kill an execution",
        "Kill a running execution (and its subflows).",
        s.obj(_EXEC, "executionId"),
        s.EXECUTION,
        kill_execution,
        destructive=True,
    ),
    ToolSpec(
        "restart_execution",
        "Restart an execution",
        "Restart a failed (or paused) execution from its failed task runs, or from one task run.",
        s.obj({**_EXEC, "taskRunId": s.STRING}, "executionId"),
        s.EXECUTION,
        restart_execution,
    ),
    ToolSpec(
        "replay_execution",
        "Replay an execution",
        "Run an execution again as a new execution, from the start or from one task run.",
        s.obj({**_EXEC, "taskRunId": s.STRING}, "executionId"),
        s.EXECUTION,
        replay_execution,
    ),
    ToolSpec(
        "resume_execution",
        "Resume an execution",
        "Resume a paused execution, with the inputs its Pause task asks for.",
        s.obj({**_EXEC, "inputs": s.OBJECT}, "executionId"),
        s.EXECUTION,
        resume_execution,
    ),
    ToolSpec(
        "set_execution_labels",
        "Set labels of an execution",
        "Add or change labels of an ended execution.",
        s.obj({**_EXEC, "labels": s.STRING_MAP}, "executionId", "labels"),
        s.EXECUTION,
        set_execution_labels,
    ),
    ToolSpec(
        "get_execution_outputs",
        "Get task-run outputs",
        "The flow's outputs and each task run's outputs of an execution; paged.",
        s.obj({**_EXEC, "page": s.PAGE, "size": s.SIZE}, "executionId"),
        s.obj(
            {
                **s.paged(s.OBJECT)["properties"],
                "executionId": s.STRING,
                "state": s.OPTIONAL_STRING,
                "flowOutputs": s.ANY,
            },
            "results",
            "total",
            "truncated",
            closed=False,
        ),
        get_execution_outputs,
        read_only=True,
    ),
    ToolSpec(
        "tail_logs",
        "Tail an execution's logs",
        "An execution's log lines from a cursor (start: none), at least minLevel. Call again "
        "with nextCursor for the lines written since.",
        s.obj(
            {
                **_EXEC,
                "minLevel": s.LEVEL,
                "cursor": s.CURSOR,
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LOG_LINES,
                    "default": DEFAULT_LOG_LINES,
                },
            },
            "executionId",
        ),
        s.obj(
            {
                "executionId": s.STRING,
                "state": s.OPTIONAL_STRING,
                "lines": s.array(_LOG_LINE),
                "nextCursor": s.STRING,
                "hasMore": s.BOOLEAN,
                **_BOUNDED,
            },
            "lines",
            "nextCursor",
            "hasMore",
            "truncated",
            closed=False,
        ),
        tail_logs,
        read_only=True,
    ),
    ToolSpec(
        "search_logs",
        "Search logs",
        "Log lines of a namespace or flow (newest first), filtered by text and minLevel; "
        "nextCursor gives the next lines.",
        s.obj(
            {
                "namespace": s.NAMESPACE,
                "flowId": s.FLOW_ID,
                "q": s.STRING,
                "minLevel": s.LEVEL,
                "cursor": s.CURSOR,
                "size": s.SIZE,
            }
        ),
        s.obj(
            {
                "lines": s.array(_LOG_LINE),
                "total": s.INTEGER,
                "nextCursor": s.OPTIONAL_STRING,
                "hasMore": s.BOOLEAN,
                **_BOUNDED,
            },
            "lines",
            "hasMore",
            "truncated",
            closed=False,
        ),
        search_logs,
        read_only=True,
    ),
    ToolSpec(
        "kv_list",
        "List KV keys",
        "The keys of a namespace's key-value store; paged.",
        s.obj({"namespace": s.NAMESPACE, "page": s.PAGE, "size": s.SIZE}, "namespace"),
        s.paged(s.obj({"key": s.STRING}, "key", closed=False)),
        kv_list,
        read_only=True,
    ),
    ToolSpec(
        "kv_get",
        "Get a KV value",
        "A value of a namespace's key-value store, with its type.",
        s.obj(_KEY, "namespace", "key"),
        s.obj(
            {"key": s.STRING, "type": s.OPTIONAL_STRING, "value": s.ANY, **_BOUNDED},
            "key",
            "truncated",
            closed=False,
        ),
        kv_get,
        read_only=True,
    ),
    ToolSpec(
        "kv_set",
        "Set a KV value",
        "Set a value (string, number, boolean, object, list) of a namespace's key-value store; "
        "ttl: an ISO-8601 duration such as PT1H.",
        s.obj({**_KEY, "value": s.ANY, "ttl": s.STRING}, "namespace", "key", "value"),
        s.obj({"key": s.STRING, "set": s.BOOLEAN}, closed=False),
        kv_set,
    ),
    ToolSpec(
        "kv_delete",
        "Delete a KV value",
        "Delete a key of a namespace's key-value store.",
        s.obj(_KEY, "namespace", "key"),
        s.obj({"key": s.STRING, "deleted": s.BOOLEAN}, closed=False),
        kv_delete,
        destructive=True,
    ),
    ToolSpec(
        "files_list",
        "List namespace files",
        "The files and directories of a namespace directory (the root by default); paged.",
        s.obj(
            {"namespace": s.NAMESPACE, "path": s.STRING, "page": s.PAGE, "size": s.SIZE},
            "namespace",
        ),
        s.paged(s.obj({"fileName": s.STRING, "type": s.STRING}, closed=False)),
        files_list,
        read_only=True,
    ),
    ToolSpec(
        "file_read",
        "Read a namespace file",
        f"A namespace file's content (utf-8 text, or base64), the first {MAX_FILE_BYTES} bytes.",
        s.obj(_PATH, "namespace", "path"),
        s.obj(
            {
                "path": s.STRING,
                "size": s.INTEGER,
                "encoding": s.STRING,
                "content": s.STRING,
                **_BOUNDED,
            },
            "content",
            "encoding",
            "truncated",
            closed=False,
        ),
        file_read,
        read_only=True,
    ),
    ToolSpec(
        "file_write",
        "Write a namespace file",
        "Create or replace a namespace file (content: text, or base64 with encoding: base64).",
        s.obj(
            {
                **_PATH,
                "content": s.STRING,
                "encoding": {"type": "string", "enum": ["utf-8", "base64"]},
            },
            "namespace",
            "path",
            "content",
        ),
        s.obj({"path": s.STRING, "written": s.BOOLEAN}, closed=False),
        file_write,
    ),
    ToolSpec(
        "file_delete",
        "Delete a namespace file",
        "Delete a namespace file or directory.",
        s.obj(_PATH, "namespace", "path"),
        s.obj({"path": s.STRING, "deleted": s.BOOLEAN}, closed=False),
        file_delete,
        destructive=True,
    ),
)

TOOLS_BY_NAME: dict[str, ToolSpec] = {tool.name: tool for tool in TOOLS}
