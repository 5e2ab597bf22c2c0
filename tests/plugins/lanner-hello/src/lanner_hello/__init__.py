"""A third-party Lanner task: ``io.lanner.plugin.hello.Hello``.

Declared under the ``lanner.tasks`` entry-point group (see ``pyproject.toml``). It imports only
Lanner's public task API (``lanner.tasks.base``; the run context for type checking).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from lanner.tasks.base import Int, Task, Text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lanner.tasks.context import RunContext


class Hello(Task):
    """Greet ``name`` ``times`` times: one log line per greeting, the greeting as output."""

    TYPE: ClassVar[str] = "io.lanner.plugin.hello.Hello"

    name: Text
    greeting: Text = "Hello"
    times: Int = 1

    async def run(self, ctx: RunContext) -> Mapping[str, Any] | None:
        name = await ctx.render(self.name)
        text = f"{await ctx.render(self.greeting)}, {name}!"
        times = int(await ctx.render_typed(self.times))
        for _ in range(times):
            await ctx.logger.alog("INFO", text)
        return {"message": text, "count": times}
