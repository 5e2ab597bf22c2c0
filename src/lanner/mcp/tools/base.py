"""The parts every tool is made of: its spec, the bounds of its answer, argument checks and
the shapes of what it answers (an execution, a flow, a log line).

Must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from lanner.mcp import schemas as s
from lanner.mcp.backend import Backend

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


def int_arg(args: Args, name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolInputError(f"'{name}' must be an integer")
    return max(low, min(high, value))


def str_arg(args: Args, name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise ToolInputError(f"'{name}' is required (a non-empty string)")
    return value


def opt_arg(args: Args, name: str) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ToolInputError(f"'{name}' must be a string")
    return value


def map_arg(args: Args, name: str) -> dict[str, Any]:
    value = args.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ToolInputError(f"'{name}' must be an object")
    return dict(value)


def labels_arg(args: Args, name: str = "labels") -> dict[str, str]:
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


def page_of(page: dict[str, Any], items: list[Any], number: int, size: int) -> Result:
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


def execution_result(execution: Mapping[str, Any]) -> Result:
    bounds = Bounds()
    return bounds.stamp(execution_summary(execution, bounds))


def log_line(entry: Mapping[str, Any], bounds: Bounds) -> Result:
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


def cursor_arg(args: Args) -> int:
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


BOUNDED = {"truncated": s.TRUNCATED, "note": s.NOTE}
