"""``io.kestra.plugin.scripts.node.Commands`` and ``.Script``. Imports ``lanner.tasks`` only."""

from __future__ import annotations

from typing import ClassVar

from lanner.tasks.base import Task
from lanner.tasks.scripts.base import SCRIPTS, CommandsTask, FileScriptTask


class NodeCommands(CommandsTask):
    """Commands (``node main.js``...) run by the interpreter."""

    TYPE: ClassVar[str] = f"{SCRIPTS}.node.Commands"
    DEFAULT_IMAGE: ClassVar[str] = "node"


class NodeScript(FileScriptTask):
    """A JavaScript script, written to a file run by ``node``."""

    TYPE: ClassVar[str] = f"{SCRIPTS}.node.Script"
    DEFAULT_IMAGE: ClassVar[str] = "node"
    RUN_WITH: ClassVar[tuple[str, ...]] = ("node",)
    SUFFIX: ClassVar[str] = ".js"


MODELS: tuple[type[Task], ...] = (NodeCommands, NodeScript)
