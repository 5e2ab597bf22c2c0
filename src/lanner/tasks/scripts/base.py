"""The properties every script task shares and its run: a working directory (fresh per
attempt, or the one a ``WorkingDirectory`` shares), the command lines rendered, a runner, the
outputs (``vars``, ``exitCode``, ``outputFiles``).

Supported: ``interpreter`` (default ``/bin/sh -c``), ``beforeCommands``, ``env`` (added to the
worker's environment), ``failFast`` (``set -e`` first; not with ``targetOS: WINDOWS``),
``inputFiles`` (a map or a rendered JSON map; ``kestra://`` values are copied from internal
storage), ``namespaceFiles`` (``include``/``exclude`` globs), ``outputFiles`` (globs; the files
of ``{{ outputDir }}`` too) uploaded as ``kestra://`` URIs, ``{{ workingDir }}``, ``timeout``
(the engine's, which cancels the run: the process group is killed), the Process task runner and
the legacy ``runner: PROCESS``. ``containerImage`` with the process runner is reported once in
the logs as not used. The Docker task runner (and ``runner: DOCKER``) runs the commands with
the ``docker`` CLI, the working directory mounted at the same path, when ``docker info``
answers; otherwise the task fails saying so. ``warningOnStdErr`` is accepted and, as in Kestra
0.23+, no longer turns a task WARNING. A non-zero exit code fails the task with ``exitCode``
(and ``vars``) in its outputs and the last stderr lines in its log. Imports ``lanner.tasks``,
the domain, pydantic and the standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from lanner.domain.logs import LogLevel
from lanner.tasks.base import DYNAMIC, AnyMap, Bool, Strict, StrList, StrMap, Task, Text
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.failures import TaskFailure
from lanner.tasks.scripts import docker
from lanner.tasks.scripts.files import (
    copy_namespace_files,
    inside,
    upload_output_files,
    write_input_files,
)
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

    DEFAULT_IMAGE: ClassVar[str] = "ubuntu"

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
        use_docker = self._uses_docker()
        image = await ctx.render(self.containerImage) if self.containerImage else None
        if use_docker:
            await docker.check_daemon()
        elif image is not None:
            ctx.logger.log(
                LogLevel.WARN,
                f"containerImage '{image}' is not used: the task runs as a local process",
            )
        workdir = ctx.working_directory()
        outdir = ctx.output_directory()
        await write_input_files(ctx, workdir, self.inputFiles)
        await copy_namespace_files(ctx, workdir, self.namespaceFiles)
        script = await self._script(ctx, workdir)
        interpreter = await _render_list(ctx, self.interpreter or DEFAULT_INTERPRETER)
        task_env = await self._env(ctx)
        consumer = OutputConsumer(ctx)
        if use_docker:
            options = await self._docker_options(ctx)
            name = f"lanner-{uuid.uuid4().hex[:16]}"
            argv = docker.run_argv(
                name, image or options.get("image") or self.DEFAULT_IMAGE, workdir, task_env,
                [*interpreter, script], pull_policy=options.get("pullPolicy"),
            )  # fmt: skip
            code = await docker.run_container(name, argv, str(workdir), consumer)
        else:
            env = {**os.environ, **task_env}
            code = await run_process(
                [*interpreter, script], cwd=str(workdir), env=env, consumer=consumer
            )
        outputs: dict[str, Any] = {"vars": consumer.vars, "exitCode": code}
        if code != 0:
            message = f"Command failed with exit code {code}"
            if consumer.last_stderr:
                message += "; last lines of stderr:\n" + "\n".join(consumer.last_stderr)
            raise TaskFailure(message, outputs=outputs)
        patterns = await _render_list(ctx, self.outputFiles or [])
        files = await upload_output_files(ctx, workdir, patterns, outdir)
        if files or self.outputFiles is not None:
            outputs["outputFiles"] = files
        return outputs

    def _uses_docker(self) -> bool:
        if self.taskRunner is None:
            return self.runner == "DOCKER"
        return self.taskRunner.type.lower() != PROCESS_RUNNER.lower()

    async def _docker_options(self, ctx: RunContext) -> dict[str, Any]:
        raw: dict[str, Any] = dict(self.docker or {})
        if self.taskRunner is not None:
            raw.update(self.taskRunner.model_extra or {})
        rendered = await ctx.render_typed(raw)
        return rendered if isinstance(rendered, dict) else {}

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


def _write_files(workdir: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = inside(workdir, name)
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
