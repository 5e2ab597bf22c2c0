"""``io.kestra.plugin.scripts.python.Commands`` and ``.Script``. ``dependencies`` (and
``pythonVersion``, ``dependencyCacheEnabled``) are accepted and not installed: a warning says
so. Imports ``lanner.tasks`` only."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from lanner.domain.logs import LogLevel
from lanner.tasks.base import Bool, StrList, Task, Text
from lanner.tasks.context import RunContext
from lanner.tasks.scripts.base import SCRIPTS, CommandsTask, FileScriptTask


class PythonCommands(CommandsTask):
    """Commands (``python main.py``...) run by the interpreter."""

    TYPE: ClassVar[str] = f"{SCRIPTS}.python.Commands"
    DEFAULT_IMAGE: ClassVar[str] = "ghcr.io/kestra-io/kestrapy:latest"

    dependencies: StrList | None = None
    pythonVersion: Text | None = None
    dependencyCacheEnabled: Bool | None = None

    async def lines(self, ctx: RunContext, workdir: Path) -> list[str]:
        _warn_dependencies(ctx, self.dependencies)
        return await super().lines(ctx, workdir)


class PythonScript(FileScriptTask):
    """A Python script, written to a file run by ``python`` (``python3`` when missing)."""

    TYPE: ClassVar[str] = f"{SCRIPTS}.python.Script"
    DEFAULT_IMAGE: ClassVar[str] = "ghcr.io/kestra-io/kestrapy:latest"
    RUN_WITH: ClassVar[tuple[str, ...]] = ("python", "python3")
    SUFFIX: ClassVar[str] = ".py"

    dependencies: StrList | None = None
    pythonVersion: Text | None = None
    dependencyCacheEnabled: Bool | None = None

    async def lines(self, ctx: RunContext, workdir: Path) -> list[str]:
        _warn_dependencies(ctx, self.dependencies)
        return await super().lines(ctx, workdir)


def _warn_dependencies(ctx: RunContext, dependencies: list[str] | None) -> None:
    if dependencies:
        ctx.logger.log(
            LogLevel.WARN,
            "dependencies are not installed by this server: " + ", ".join(dependencies),
        )


MODELS: tuple[type[Task], ...] = (PythonCommands, PythonScript)
