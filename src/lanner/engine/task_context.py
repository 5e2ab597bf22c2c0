"""The engine's :class:`~lanner.tasks.context.RunContext`: :class:`TaskContext`.

A task class's ``run(ctx)`` renders its properties through it (text or typed, in a thread when
they call server functions), logs through its :class:`TaskLogger`, reaches the KV store and
secrets. The job runner also reads properties by name through it (``text``/``typed``) for the
tasks it resolves itself (flowable values, Subflow). Imports the domain, templating, the store
protocols, ``lanner.tasks`` and this package.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanner.domain.executions import Execution, TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.logs import LogEntry, LogLevel, parse_level
from lanner.engine.logging import Masker, TaskLogger
from lanner.engine.logwriter import LogWriter
from lanner.store import KVStore
from lanner.tasks.failures import TaskFailure
from lanner.tasks.values import is_truthy
from lanner.templating import TemplateEngine

TRACE = LogLevel.TRACE

__all__ = ["Metric", "TaskContext", "TaskFailure", "is_truthy", "render_tree"]


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric a task recorded (kept with the context; not stored yet)."""

    name: str
    value: float
    kind: str
    tags: Mapping[str, str]


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
    metrics: list[Metric] = field(default_factory=list)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
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

    # -- RunContext ----------------------------------------------------------------------------

    @property
    def task_run(self) -> TaskRun:
        return self.run

    async def render(self, value: Any) -> str | None:
        if value is None:
            return None
        return str(await self.render_value(_as_text(value), typed=False))

    async def render_typed(self, value: Any) -> Any:
        return None if value is None else await self.render_value(value, typed=True)

    async def secret(self, key: str) -> str:
        # Through the template engine's ``secret()``: one lookup, and the value gets masked.
        return str(await self.render_value("{{ secret(" + json.dumps(key) + ") }}", typed=False))

    def metric(
        self,
        name: str,
        value: float,
        *,
        kind: str = "counter",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.metrics.append(Metric(name, float(value), kind, dict(tags or {})))

    async def put_file(self, name: str, content: bytes) -> str:
        raise _not_served("internal storage")

    async def read_file(self, uri: str) -> bytes:
        raise _not_served("internal storage")

    def working_directory(self) -> Path:
        raise _not_served("a working directory")

    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    # -- the job runner's own reads --------------------------------------------------------------

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


def _not_served(what: str) -> TaskFailure:
    return TaskFailure(f"{what} is not available to tasks on this server yet", retryable=False)
