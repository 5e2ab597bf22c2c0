"""``io.kestra.plugin.scripts.shell.Commands`` and ``.Script``. Imports ``lanner.tasks`` only."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from lanner.tasks.base import Task, Text
from lanner.tasks.context import RunContext
from lanner.tasks.scripts.base import SCRIPTS, CommandsTask, ScriptTask


class ShellCommands(CommandsTask):
    """Shell commands run by the interpreter (``/bin/sh -c``)."""

    TYPE: ClassVar[str] = f"{SCRIPTS}.shell.Commands"


class ShellScript(ScriptTask):
    """A shell script, run by the interpreter as it is (after ``beforeCommands``), as Kestra
    does."""

    TYPE: ClassVar[str] = f"{SCRIPTS}.shell.Script"

    script: Text

    async def lines(self, ctx: RunContext, workdir: Path) -> list[str]:
        return [await ctx.render(self.script) or ""]


MODELS: tuple[type[Task], ...] = (ShellCommands, ShellScript)
