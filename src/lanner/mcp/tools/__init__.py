"""Kestra's operations as MCP tools: names, schemas, bounds and results, defined once.

Both servers (built-in over HTTP, ``lanner mcp`` over stdio) list these tools and run them over
a :class:`~lanner.mcp.backend.Backend`. Every answer is an object matching the tool's output
schema, bounded: lists come in pages (``nextPage``/``nextCursor``), long texts and large values
are cut, and ``truncated``/``note`` say so. One module per family (``flows``, ``executions``,
``data``), their parts in ``base``. Must not import ``api``, ``engine`` or ``store``.
"""

from __future__ import annotations

from lanner.mcp.tools import data, executions, flows
from lanner.mcp.tools.base import (
    Args,
    Bounds,
    Result,
    ToolInputError,
    ToolSpec,
    execution_summary,
)

TOOLS: tuple[ToolSpec, ...] = (*flows.TOOLS, *executions.TOOLS, *data.TOOLS)
TOOLS_BY_NAME: dict[str, ToolSpec] = {tool.name: tool for tool in TOOLS}

__all__ = [
    "TOOLS",
    "TOOLS_BY_NAME",
    "Args",
    "Bounds",
    "Result",
    "ToolInputError",
    "ToolSpec",
    "execution_summary",
]
