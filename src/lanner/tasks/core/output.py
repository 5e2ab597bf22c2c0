"""Core ``output.*`` tasks: ``OutputValues`` exposes rendered values as outputs.

Imports ``lanner.tasks`` only.
"""

from __future__ import annotations

from typing import ClassVar

from lanner.tasks.base import AnyMap, Task
from lanner.tasks.context import Outputs, RunContext

CORE = "io.kestra.plugin.core"


class OutputValues(Task):
    """Expose rendered ``values`` as outputs."""

    TYPE: ClassVar[str] = f"{CORE}.output.OutputValues"

    values: AnyMap | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        return {"values": await ctx.render_typed(self.values) or {}}


MODELS: tuple[type[Task], ...] = (OutputValues,)
