"""``io.kestra.plugin.scripts.shell.Commands`` and ``.Script``. Imports ``lanner.tasks`` only."""

from __future__ import annotations

from typing import ClassVar

from lanner.tasks.base import Task
from lanner.tasks.scripts.base import SCRIPTS, CommandsTask, FileScriptTask


class ShellCommands(CommandsTask):
    """Shell commands run by the interpreter (``/bin/sh -c``)."""

    TYPE: ClassVar[str] = f"{SCRIPTS}.shell.Commands"


class ShellScript(FileScriptTask):
    """A shell script, written to a file run by ``sh``."""

    TYPE: ClassVar[str] = f"{SCRIPTS}.shell.Script"


MODELS: tuple[type[Task], ...] = (ShellCommands, ShellScript)
