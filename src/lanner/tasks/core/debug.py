"""Core ``debug.*`` tasks: ``Return`` (a rendered ``value`` output) and the deprecated ``Echo``.

Imports ``lanner.tasks`` only.
"""

from __future__ import annotations

from typing import ClassVar

from lanner.tasks.base import LogLevel, Task, Text
from lanner.tasks.context import Outputs, RunContext

CORE = "io.kestra.plugin.core"
LEGACY = "io.kestra.core.tasks"


class Return(Task):
    """Render ``format`` and return it as the ``value`` output."""

    TYPE: ClassVar[str] = f"{CORE}.debug.Return"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.debugs.Return",)

    format: Text | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        return {"value": await ctx.render(self.format)}


class Echo(Task):
    """Log ``format`` (deprecated, use Log)."""

    TYPE: ClassVar[str] = f"{CORE}.debug.Echo"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.debugs.Echo",)
    DEPRECATED: ClassVar[bool] = True

    format: Text
    level: LogLevel = "INFO"

    async def run(self, ctx: RunContext) -> Outputs:
        ctx.logger.log(await ctx.render(self.level) or "INFO", await ctx.render(self.format) or "")
        return None


MODELS: tuple[type[Task], ...] = (Return, Echo)
