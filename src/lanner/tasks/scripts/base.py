"""The properties every script task shares and its run: a fresh working directory, the
command lines rendered, the process runner, the outputs (``vars``, ``exitCode``).

Supported: ``interpreter`` (default ``/bin/sh -c``), ``beforeCommands``, ``env`` (added to the
worker's environment), ``failFast`` (``set -e`` first), ``inputFiles`` (a map or a rendered
JSON map of inline contents, written into the working directory), ``timeout`` (the engine's,
which cancels the run: the process group is killed), the Process task runner and the legacy
``runner: PROCESS``. Accepted and not used yet: ``containerImage`` (reported once in the logs),
``docker``, ``outputFiles``, ``namespaceFiles``, ``warningOnStdErr``, ``targetOS``,
``outputDirectory``. An explicit Docker runner fails the task. Imports ``lanner.tasks``,
pydantic and the standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from lanner.domain.logs import LogLevel
from lanner.tasks.base import DYNAMIC, AnyMap, Bool, Strict, StrList, StrMap, Task, Text
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.failures import TaskFailure
from lanner.tasks.scripts.process import run_process
from lanner.tasks.scripts.protocol import OutputConsumer
from lanner.tasks.values import as_flag

SCRIPTS = "io.kestra.plugin.scripts"
PROCESS_RUNNER = "io.kestra.plugin.core.runner.Process"
DOCKER_RUNNERS = (
    "io.kestra.plugin.scripts.runner.docker.Docker",
    "io.kestra.plugin.scripts.runner.docker.DockerTaskRunner",
)
DEFAULT_INTERPRETER = ("/bin/sh", "-c")
_RUNNERS = {name.lower() for name in (PROCESS_RUNNER, *DOCKER_RUNNERS)}


def _known_runner(runner: TaskRunner) -> TaskRunner:
    if runner.type.lower() not in _RUNNERS:
        raise ValueError(f"unknown task runner type {runner.type}")
    return runner


class TaskRunner(BaseModel):
    """``taskRunner``: its ``type``; a Docker runner's own options are kept as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str


class NamespaceFiles(Strict):
    enabled: Bool = True
    include: StrList | None = None
    exclude: StrList | None = None
    ifExists: Text | None = None
    folderPerNamespace: Bool | None = None
    namespaces: StrList | None = None


TargetOS = Annotated[Literal["LINUX", "WINDOWS", "AUTO"], DYNAMIC]


class ScriptTask(Task):
    """Base of the script tasks: subclasses say which lines run (:meth:`lines`)."""

    DEFAULT_IMAGE: ClassVar[str] = ""

    taskRunner: Annotated[TaskRunner, AfterValidator(_known_runner)] | None = None
    runner: Literal["PROCESS", "DOCKER"] | None = None
    containerImage: Text | None = None
    docker: AnyMap | None = None
    env: StrMap | None = None
    interpreter: StrList | None = None
    """Default: ``/bin/sh -c``."""
    beforeCommands: StrList | None = None
    failFast: Bool = True
    warningOnStdErr: Bool = True
    targetOS: TargetOS = "AUTO"
    inputFiles: Annotated[dict[str, Text], DYNAMIC] | Text | None = None
    outputFiles: StrList | None = None
    namespaceFiles: NamespaceFiles | None = None
    outputDirectory: Bool | None = None

    async def lines(self, ctx: RunContext, workdir: Path) -> list[str]:
        """The task's own command lines, rendered (after ``beforeCommands``)."""
        raise NotImplementedError

    async def run(self, ctx: RunContext) -> Outputs:
        self._check_runner()
        if self.containerImage is not None:
            image = await ctx.render(self.containerImage)
            ctx.logger.log(
                LogLevel.WARN,
                f"containerImage '{image}' is not used: the task runs as a local process",
            )
        workdir = Path(tempfile.mkdtemp(prefix="lanner-script-"))
        try:
            await self._write_input_files(ctx, workdir)
            script = await self._script(ctx, workdir)
            interpreter = await _render_list(ctx, self.interpreter or DEFAULT_INTERPRETER)
            env = {**os.environ, **await self._env(ctx)}
            consumer = OutputConsumer(ctx)
            code = await run_process(
                [*interpreter, script], cwd=str(workdir), env=env, consumer=consumer
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if code != 0:
            raise TaskFailure(f"Command failed with exit code {code}")
        return {"vars": consumer.vars, "exitCode": code}

    def _check_runner(self) -> None:
        docker = self.runner == "DOCKER" if self.taskRunner is None else (
            self.taskRunner.type.lower() != PROCESS_RUNNER.lower()
        )  # fmt: skip
        if docker:
            raise TaskFailure(
                "the Docker task runner is not available on this server yet; use "
                f"'taskRunner: {{type: {PROCESS_RUNNER}}}'",
                retryable=False,
            )

    async def _script(self, ctx: RunContext, workdir: Path) -> str:
        lines = await _render_list(ctx, self.beforeCommands or [])
        lines += await self.lines(ctx, workdir)
        windows = await ctx.render(self.targetOS) == "WINDOWS"
        if as_flag(await ctx.render_typed(self.failFast)) and not windows:
            lines.insert(0, "set -e")
        return "\n".join(lines)

    async def _env(self, ctx: RunContext) -> dict[str, str]:
        rendered = await ctx.render_typed(self.env) if self.env else {}
        if not isinstance(rendered, dict):
            raise TaskFailure("env must be a map of names to values", retryable=False)
        return {str(k): "" if v is None else str(v) for k, v in rendered.items()}

    async def _write_input_files(self, ctx: RunContext, workdir: Path) -> None:
        if self.inputFiles is None:
            return
        files: Any = await ctx.render_typed(self.inputFiles)
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                raise TaskFailure("inputFiles must be a map of file names to contents") from None
        if not isinstance(files, dict):
            raise TaskFailure("inputFiles must be a map of file names to contents")
        _write_files(workdir, {str(k): "" if v is None else str(v) for k, v in files.items()})


def _write_files(workdir: Path, files: dict[str, str]) -> None:
    root = workdir.resolve()
    for name, text in files.items():
        target = (workdir / name).resolve()
        if not target.is_relative_to(root):
            raise TaskFailure(f"input file '{name}' is outside the working directory")
        if text.startswith("kestra://"):
            raise TaskFailure(f"input file '{name}': kestra:// files are not supported yet")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


async def _render_list(ctx: RunContext, values: Any) -> list[str]:
    rendered = await ctx.render_typed(values)
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except ValueError:
            rendered = [rendered]
    if not isinstance(rendered, list):
        rendered = [rendered]
    return ["" if item is None else str(item) for item in rendered]


class CommandsTask(ScriptTask):
    """A ``Commands`` task: its ``commands`` run one after the other."""

    commands: StrList

    async def lines(self, ctx: RunContext, workdir: Path) -> list[str]:
        return await _render_list(ctx, self.commands)


class FileScriptTask(ScriptTask):
    """A ``Script`` task: ``script`` is written to a file that :attr:`RUN_WITH` runs."""

    RUN_WITH: ClassVar[tuple[str, ...]] = ()
    SUFFIX: ClassVar[str] = ""

    script: Text

    async def lines(self, ctx: RunContext, workdir: Path) -> list[str]:
        name = f"script{self.SUFFIX}"
        _write_files(workdir, {name: await ctx.render(self.script) or ""})
        program = next((p for p in self.RUN_WITH if shutil.which(p)), self.RUN_WITH[0])
        return [f"{program} {name}"]
