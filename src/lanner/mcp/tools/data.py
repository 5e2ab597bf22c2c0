"""Tools for logs (tail with a cursor, search), KV values and namespace files.

Must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

import base64
import binascii

from lanner.mcp import schemas as s
from lanner.mcp.backend import Backend
from lanner.mcp.tools.base import (
    BOUNDED,
    DEFAULT_LOG_LINES,
    MAX_FILE_BYTES,
    MAX_LOG_LINES,
    Args,
    Bounds,
    Result,
    ToolInputError,
    ToolSpec,
    cursor_arg,
    int_arg,
    log_line,
    opt_arg,
    page_of,
    str_arg,
)

# --- logs -------------------------------------------------------------------------------------


async def tail_logs(api: Backend, args: Args) -> Result:
    execution_id = str_arg(args, "executionId")
    offset = cursor_arg(args)
    limit = int_arg(args, "limit", DEFAULT_LOG_LINES, 1, MAX_LOG_LINES)
    level = opt_arg(args, "minLevel")
    lines = await api.execution_logs(execution_id, level, offset + limit + 1)
    bounds = Bounds()
    shown = [log_line(entry, bounds) for entry in lines[offset : offset + limit]]
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
    page = cursor_arg(args) or 1
    size = int_arg(args, "size", DEFAULT_LOG_LINES, 1, s.MAX_PAGE_SIZE)
    found = await api.search_logs(
        opt_arg(args, "namespace"),
        opt_arg(args, "flowId"),
        opt_arg(args, "q"),
        opt_arg(args, "minLevel"),
        page,
        size,
    )
    bounds = Bounds()
    lines = [log_line(entry, bounds) for entry in found.get("results") or []]
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
    namespace = str_arg(args, "namespace")
    page, size = int_arg(args, "page", 1, 1, 10**6), int_arg(args, "size", 50, 1, s.MAX_PAGE_SIZE)
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
        {**page_of({"total": len(entries)}, items, page, size), "namespace": namespace}
    )


async def kv_get(api: Backend, args: Args) -> Result:
    namespace, key = str_arg(args, "namespace"), str_arg(args, "key")
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
    namespace, key = str_arg(args, "namespace"), str_arg(args, "key")
    if "value" not in args or args["value"] is None:
        raise ToolInputError("'value' is required (null cannot be stored)")
    await api.kv_set(namespace, key, args["value"], opt_arg(args, "ttl"))
    return {"namespace": namespace, "key": key, "set": True}


async def kv_delete(api: Backend, args: Args) -> Result:
    namespace, key = str_arg(args, "namespace"), str_arg(args, "key")
    return {"namespace": namespace, "key": key, "deleted": await api.kv_delete(namespace, key)}


async def files_list(api: Backend, args: Args) -> Result:
    namespace = str_arg(args, "namespace")
    page, size = int_arg(args, "page", 1, 1, 10**6), int_arg(args, "size", 50, 1, s.MAX_PAGE_SIZE)
    entries = await api.files_list(namespace, opt_arg(args, "path"))
    start = (page - 1) * size
    items = [
        {"fileName": e.get("fileName"), "type": e.get("type"), "size": e.get("size")}
        for e in entries[start : start + size]
    ]
    result = page_of({"total": len(entries)}, items, page, size)
    return Bounds().stamp({**result, "namespace": namespace, "path": opt_arg(args, "path") or "/"})


async def file_read(api: Backend, args: Args) -> Result:
    namespace, path = str_arg(args, "namespace"), str_arg(args, "path")
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
    namespace, path = str_arg(args, "namespace"), str_arg(args, "path")
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
    namespace, path = str_arg(args, "namespace"), str_arg(args, "path")
    await api.file_delete(namespace, path)
    return {"namespace": namespace, "path": path, "deleted": True}


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

_EXEC = {"executionId": s.EXECUTION_ID}

TOOLS: tuple[ToolSpec, ...] = (
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
                **BOUNDED,
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
                **BOUNDED,
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
            {"key": s.STRING, "type": s.OPTIONAL_STRING, "value": s.ANY, **BOUNDED},
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
                **BOUNDED,
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
