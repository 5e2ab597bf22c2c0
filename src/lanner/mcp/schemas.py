"""JSON Schema fragments of the tools' inputs and outputs (one place, both servers)."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

STRING: Schema = {"type": "string"}
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 1000}
OPTIONAL_STRING: Schema = {"type": ["string", "null"]}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
ANY: Schema = {}
STRING_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT: Schema = {"type": "object"}
LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
LEVEL: Schema = {"type": "string", "enum": LEVELS, "description": "the lowest level shown"}

NAMESPACE: Schema = {**NAME, "description": "a namespace, e.g. company.team"}
FLOW_ID: Schema = {**NAME, "description": "a flow id"}
EXECUTION_ID: Schema = {**NAME, "description": "an execution id"}
PAGE: Schema = {"type": "integer", "minimum": 1, "default": 1, "description": "1-based page"}
SIZE: Schema = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_PAGE_SIZE,
    "default": DEFAULT_PAGE_SIZE,
    "description": f"results per page (at most {MAX_PAGE_SIZE})",
}
CURSOR: Schema = {
    "type": ["string", "null"],
    "description": "nextCursor of the previous call; omit to start from the beginning",
}


def obj(properties: dict[str, Schema], *required: str, closed: bool = True) -> Schema:
    """An object schema with ``properties``, of which ``required`` must be given."""
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


TRUNCATED: Schema = {
    "type": "boolean",
    "description": "true when this answer was cut to stay bounded (see the note)",
}
NOTE: Schema = {"type": ["string", "null"], "description": "what was cut, and how to get the rest"}

TASK_RUN = obj(
    {
        "id": STRING,
        "taskId": STRING,
        "value": OPTIONAL_STRING,
        "state": STRING,
        "outputs": ANY,
    },
    "id",
    "taskId",
    "state",
    closed=False,
)

EXECUTION = obj(
    {
        "id": STRING,
        "namespace": STRING,
        "flowId": STRING,
        "flowRevision": {"type": ["integer", "null"]},
        "state": STRING,
        "startDate": OPTIONAL_STRING,
        "endDate": OPTIONAL_STRING,
        "labels": STRING_MAP,
        "inputs": ANY,
        "outputs": ANY,
        "taskRuns": array(TASK_RUN),
        "url": OPTIONAL_STRING,
        "truncated": TRUNCATED,
        "note": NOTE,
    },
    "id",
    "namespace",
    "flowId",
    "state",
    "labels",
    "taskRuns",
    "truncated",
    closed=False,
)

FLOW_SUMMARY = obj(
    {
        "namespace": STRING,
        "id": STRING,
        "revision": INTEGER,
        "disabled": BOOLEAN,
        "description": OPTIONAL_STRING,
        "labels": STRING_MAP,
    },
    "namespace",
    "id",
    closed=False,
)

PROBLEM = obj({"path": STRING, "message": STRING}, "path", "message")


def paged(item: Schema) -> Schema:
    """A page of results: the items, the total, and where the next page is."""
    return obj(
        {
            "results": array(item),
            "total": INTEGER,
            "page": INTEGER,
            "size": INTEGER,
            "nextPage": {"type": ["integer", "null"]},
            "truncated": TRUNCATED,
            "note": NOTE,
        },
        "results",
        "total",
        "truncated",
        closed=False,
    )
