"""Core ``log.*`` tasks: ``Log`` (runs), ``Fetch`` and ``PurgeLogs`` (no runtime yet).

Imports the domain and ``lanner.tasks`` only.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from lanner.domain.logs import parse_level
from lanner.tasks.base import DYNAMIC, LogLevel, StrList, Task, Text
from lanner.tasks.context import Outputs, RunContext

CORE = "io.kestra.plugin.core"
LEGACY = "io.kestra.core.tasks"


class Log(Task):
    """Log one message or a list of messages."""

    TYPE: ClassVar[str] = f"{CORE}.log.Log"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.log.Log",)

    message: Text | list[Text]
    level: LogLevel = "INFO"

    async def run(self, ctx: RunContext) -> Outputs:
        level = parse_level(await ctx.render(self.level))
        if not ctx.logger.is_enabled(level):
            return None
        messages = self.message if isinstance(self.message, list) else [self.message]
        for item in messages:
            await ctx.logger.alog(level, await ctx.render(item) or "")
        return None


class Fetch(Task):
    """Fetch the logs of an execution into an ion file."""

    TYPE: ClassVar[str] = f"{CORE}.log.Fetch"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.log.Fetch",)

    namespace: Text | None = None
    flowId: Text | None = None
    executionId: Text | None = None
    tasksId: StrList | None = None
    level: LogLevel = "INFO"


class PurgeLogs(Task):
    """Purge logs matching a namespace, flow, levels and a date range."""

    TYPE: ClassVar[str] = f"{CORE}.log.PurgeLogs"

    namespace: Text | None = None
    flowId: Text | None = None
    logLevels: Annotated[list[LogLevel], DYNAMIC] | None = None
    startDate: Text | None = None
    endDate: Text


MODELS: tuple[type[Task], ...] = (Log, Fetch, PurgeLogs)
