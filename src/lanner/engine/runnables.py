"""Runtime of the runnable core tasks: ``log.Log``, ``debug.Return``, ``debug.Echo``,
``output.OutputValues``, ``execution.Fail``, ``flow.Sleep``.

A runnable is ``async def run(task: TaskRun context) -> outputs | None``; it renders the
properties it needs through :class:`TaskContext` (text or typed), logs through it, and fails by
raising :class:`TaskFailure` (any other exception fails the task too). Blocking work goes to a
thread. Imports the domain, templating and this package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanner.domain.executions import Execution, TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.times import parse_duration
from lanner.engine.kv_tasks import KV_RUNNABLES
from lanner.engine.logging import Masker, TaskLogger, parse_level
from lanner.engine.logwriter import LogWriter
from lanner.store import KVStore
from lanner.templating import TemplateEngine

CORE = "io.kestra.plugin.core."
TRACE = LogLevel.TRACE


class TaskFailure(Exception):
    """A task failed on purpose (``Fail``, a bad property): its message is logged at ERROR."""


@dataclass(slots=True)
class TaskContext:
    """What a running task sees: its spec, run, rendering and logging.

    Lines go through ``logger`` (to the log writer as they are written, when there is one);
    without a writer they are kept in ``logs``. The task's ``logLevel`` property filters them.
    """

    spec: TaskSpec
    run: TaskRun
    execution: Execution
    variables: Mapping[str, Any]
    templates: TemplateEngine
    attempt: int
    logs: list[LogEntry] = field(default_factory=list)
    writer: LogWriter | None = None
    masker: Masker | None = None
    kv: KVStore | None = None
    logger: TaskLogger = field(init=False)

    def __post_init__(self) -> None:
        raw_level = self.spec.properties.get("logLevel")
        try:
            min_level = parse_level(raw_level if isinstance(raw_level, str) else None, TRACE)
        except ValueError:
            min_level = TRACE
        self.logger = TaskLogger(
            self.execution,
            self.run,
            self.attempt,
            writer=self.writer,
            masker=self.masker,
            min_level=min_level,
            lines=self.logs,
        )

    async def render_value(self, value: Any, *, typed: bool) -> Any:
        """Render a property value (strings inside maps and lists too)."""
        return await render_tree(self.templates, value, self.variables, typed=typed)

    async def text(self, name: str, default: str | None = None) -> str | None:
        value = self.spec.properties.get(name, default)
        if value is None:
            return None
        rendered = await self.render_value(_as_text(value), typed=False)
        return str(rendered)

    async def typed(self, name: str, default: Any = None) -> Any:
        value = self.spec.properties.get(name, default)
        return None if value is None else await self.render_value(value, typed=True)

    def log(self, level: LogLevel | str, message: str) -> None:
        """Log one line now (error paths, short tasks)."""
        self.logger.log(level, message)

    async def alog(self, level: LogLevel | str, message: str) -> None:
        """Log one line, waiting for room in the log writer first (long loops, streams)."""
        await self.logger.alog(level, message)


async def render_tree(
    templates: TemplateEngine, value: Any, variables: Mapping[str, Any], *, typed: bool
) -> Any:
    """Render ``value``; in a thread when it calls server functions (``kv()``, ``read()``...),
    which block on the store while the event loop must stay free to serve them."""
    if _uses_runtime(templates, value):
        return await asyncio.to_thread(templates.render_tree, value, variables, typed=typed)
    return templates.render_tree(value, variables, typed=typed)


def _uses_runtime(templates: TemplateEngine, value: Any) -> bool:
    if isinstance(value, str):
        return templates.uses_runtime(value)
    if isinstance(value, Mapping):
        return any(
            _uses_runtime(templates, k) or _uses_runtime(templates, v) for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return any(_uses_runtime(templates, item) for item in value)
    return False


def _as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def is_truthy(value: Any) -> bool:
    """Pebble truthiness of a rendered condition (``"true"``, ``True``, non-zero...)."""
    if isinstance(value, str):
        text = value.strip().lower()
        return text not in ("", "false", "0", "null", "none")
    return bool(value)


Runnable = Callable[[TaskContext], Awaitable[Mapping[str, Any] | None]]


async def run_log(ctx: TaskContext) -> None:
    level = parse_level(await ctx.text("level", "INFO"))
    if not ctx.logger.is_enabled(level):
        return None
    message = ctx.spec.properties.get("message")
    messages = message if isinstance(message, list) else [message]
    for item in messages:
        await ctx.alog(level, str(await ctx.render_value(_as_text(item), typed=False)))
    return None


async def run_echo(ctx: TaskContext) -> None:
    ctx.log(await ctx.text("level", "INFO") or "INFO", await ctx.text("format") or "")
    return None


async def run_return(ctx: TaskContext) -> Mapping[str, Any]:
    return {"value": await ctx.text("format")}


async def run_output_values(ctx: TaskContext) -> Mapping[str, Any]:
    values = await ctx.typed("values", {})
    return {"values": values or {}}


async def run_fail(ctx: TaskContext) -> None:
    message = await ctx.text("errorMessage", "Task failure") or "Task failure"
    if "condition" not in ctx.spec.properties:
        raise TaskFailure(message)
    if is_truthy(await ctx.typed("condition")):
        raise TaskFailure(message)
    return None


async def run_sleep(ctx: TaskContext) -> None:
    text = await ctx.text("duration") or ""
    duration = parse_duration(text)
    if duration is None:
        raise TaskFailure(f"invalid duration: {text!r}")
    await asyncio.sleep(max(duration.total_seconds(), 0.0))
    return None


RUNNABLES: dict[str, Runnable] = {
    CORE + "log.Log": run_log,
    CORE + "debug.Echo": run_echo,
    CORE + "debug.Return": run_return,
    CORE + "output.OutputValues": run_output_values,
    CORE + "execution.Fail": run_fail,
    CORE + "flow.Sleep": run_sleep,
    **KV_RUNNABLES,
}
"""Runnable implementations by canonical task type."""
