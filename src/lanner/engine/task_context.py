"""The engine's :class:`~lanner.tasks.context.RunContext`: :class:`TaskContext`.

A task class's ``run(ctx)`` renders its properties through it (text or typed, in a thread when
they call server functions), logs through its :class:`TaskLogger`, reaches the KV store and
secrets, internal storage (``put_file``/``read_file``: this execution's and namespace's files
only), namespace files and a working directory: created on first use under the runner's
``work_root`` and removed by :meth:`TaskContext.close` after the attempt — or, for a child of a
``WorkingDirectory`` task, the directory its parent's children share (``shared_dir``, not
removed here). The job runner also reads properties by name through it (``text``/``typed``) for the
tasks it resolves itself (flowable values, Subflow). Imports the domain, templating, the store
protocols, ``lanner.tasks`` and this package.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from lanner.domain.executions import Execution, TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.globs import matches
from lanner.domain.logs import LogEntry, LogLevel, parse_level
from lanner.engine.logging import Masker, TaskLogger
from lanner.engine.logwriter import LogWriter
from lanner.errors import LannerError
from lanner.storage import (
    LocalStorage,
    NamespaceFiles,
    execution_prefix,
    files_root,
    is_inside,
    path_of,
    task_file_path,
    uri_of,
)
from lanner.store import KVStore, Store, TriggerStore
from lanner.tasks.failures import TaskFailure
from lanner.tasks.values import is_truthy
from lanner.templating import TemplateEngine

TRACE = LogLevel.TRACE

__all__ = ["Metric", "TaskContext", "TaskFailure", "is_truthy", "render_tree"]


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric a task recorded (kept with the context; the worker stores them)."""

    name: str
    value: float
    kind: str
    tags: Mapping[str, str]
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(slots=True)
class TaskContext:
    """What a running task sees: its spec, run, rendering and logging.

    Lines go through ``logger`` (to the log writer as they are written, when there is one);
    without a writer they are kept in ``logs``. The task's ``logLevel`` property filters them.
    """

    spec: TaskSpec
    run: TaskRun
    execution: Execution
    variables: Mapping[str, Any]
    templates: TemplateEngine
    attempt: int
    logs: list[LogEntry] = field(default_factory=list)
    writer: LogWriter | None = None
    masker: Masker | None = None
    kv: KVStore | None = None
    triggers: TriggerStore | None = None
    metrics: list[Metric] = field(default_factory=list)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    storage: LocalStorage | None = None
    store: Store | None = None
    effects: dict[str, Any] = field(default_factory=dict)
    """What the task asked of its execution (``update_execution``), sent with its result."""
    work_root: Path | None = None
    """Where attempts' working directories are made (default: the system's temp dir)."""
    shared_dir: Path | None = None
    """The working directory of the enclosing ``WorkingDirectory`` task, if any."""
    logger: TaskLogger = field(init=False)
    _workdir: Path | None = field(default=None, init=False)
    _own_workdir: bool = field(default=False, init=False)
    _outdir: Path | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        raw_level = self.spec.properties.get("logLevel")
        try:
            min_level = parse_level(raw_level if isinstance(raw_level, str) else None, TRACE)
        except ValueError:
            min_level = TRACE
        self.logger = TaskLogger(
            self.execution,
            self.run,
            self.attempt,
            writer=self.writer,
            masker=self.masker,
            min_level=min_level,
            lines=self.logs,
        )

    # -- RunContext ----------------------------------------------------------------------------

    @property
    def task_run(self) -> TaskRun:
        return self.run

    async def render(self, value: Any) -> str | None:
        if value is None:
            return None
        return str(await self.render_value(_as_text(value), typed=False))

    async def render_typed(self, value: Any) -> Any:
        return None if value is None else await self.render_value(value, typed=True)

    async def render_with(self, value: Any, extra: Mapping[str, Any]) -> str | None:
        if value is None:
            return None
        variables = {**self.variables, **extra}
        return str(await render_tree(self.templates, _as_text(value), variables, typed=False))

    def update_execution(self, kind: str, value: Any) -> None:
        self.effects[kind] = value

    async def delete_files_of_execution(
        self, namespace: str, flow_id: str, execution_id: str
    ) -> bool:
        storage = self.require_storage()
        prefix = execution_prefix(namespace, flow_id, execution_id)
        return await storage.delete_tree(self.execution.tenant_id, prefix)

    async def secret(self, key: str) -> str:
        # Through the template engine's ``secret()``: one lookup, and the value gets masked.
        return str(await self.render_value("{{ secret(" + json.dumps(key) + ") }}", typed=False))

    def metric(
        self,
        name: str,
        value: float,
        *,
        kind: str = "counter",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.metrics.append(Metric(name, float(value), kind, dict(tags or {})))

    async def put_file(self, name: str, content: bytes | Path) -> str:
        storage = self.require_storage()
        execution, run = self.execution, self.run
        try:
            path = task_file_path(
                execution.namespace, execution.flow_id, execution.id, run.task_id, run.id, name
            )
        except LannerError as error:
            raise TaskFailure(f"cannot store '{name}': {error.message}") from None
        if isinstance(content, Path):
            with content.open("rb") as source:  # the copy itself runs in a thread
                await storage.put(execution.tenant_id, path, source)
        else:
            await storage.put(execution.tenant_id, path, content)
        return uri_of(path)

    async def read_file(self, uri: str) -> bytes:
        storage, path = self._reachable(uri, "read")
        try:
            return await storage.read_bytes(self.execution.tenant_id, path)
        except LannerError as error:
            raise TaskFailure(error.message) from None

    async def file_size(self, uri: str) -> int:
        storage, path = self._reachable(uri, "read")
        try:
            return await storage.size(self.execution.tenant_id, path)
        except LannerError as error:
            raise TaskFailure(error.message) from None

    async def delete_file(self, uri: str) -> bool:
        storage, path = self._reachable(uri, "delete")
        return await storage.delete(self.execution.tenant_id, path)

    async def delete_execution_files(self) -> list[str]:
        storage = self.require_storage()
        execution = self.execution
        prefix = execution_prefix(execution.namespace, execution.flow_id, execution.id)
        root = storage.local_path(execution.tenant_id, prefix)
        found = await asyncio.to_thread(_files_below, root)
        await storage.delete_tree(execution.tenant_id, prefix)
        return [uri_of(prefix / relative) for relative in found]

    def namespace_files(self) -> NamespaceFiles:
        return NamespaceFiles(self.require_storage())

    def _reachable(self, uri: str, verb: str) -> tuple[LocalStorage, PurePosixPath]:
        """The storage and path of ``uri`` when this execution may reach it: its own files
        and its namespace's files."""
        storage = self.require_storage()
        execution = self.execution
        try:
            path = path_of(uri)
        except LannerError as error:
            raise TaskFailure(error.message) from None
        own = execution_prefix(execution.namespace, execution.flow_id, execution.id)
        if not (is_inside(path, own) or is_inside(path, files_root(execution.namespace))):
            raise TaskFailure(
                f"Unable to {verb} the file '{uri}' as it didn't belong to the current execution"
            )
        return storage, path

    def working_directory(self) -> Path:
        if self._workdir is None:
            if self.shared_dir is not None:
                self.shared_dir.mkdir(parents=True, exist_ok=True)
                self._workdir = self.shared_dir
            else:
                root = self.work_root
                if root is not None:
                    root.mkdir(parents=True, exist_ok=True)
                self._workdir = Path(tempfile.mkdtemp(prefix="lanner-task-", dir=root))
                self._own_workdir = True
            self.variables = {**self.variables, "workingDir": str(self._workdir)}
        return self._workdir

    def output_directory(self) -> Path:
        if self._outdir is None:
            self._outdir = self.working_directory() / f"output-{uuid.uuid4().hex[:12]}"
            self._outdir.mkdir()
            self.variables = {**self.variables, "outputDir": str(self._outdir)}
        return self._outdir

    async def copy_namespace_files(
        self, target: Path, include: Sequence[str] | None, exclude: Sequence[str] | None
    ) -> list[str]:
        files = NamespaceFiles(self.require_storage())
        root = files.root_path(self.execution.tenant_id, self.execution.namespace)
        return await asyncio.to_thread(
            _copy_tree, root, target, list(include or ()), list(exclude or ())
        )

    def close(self) -> None:
        """Remove this attempt's own working directory (blocking: call it in a thread)."""
        if self._workdir is not None and self._own_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        elif self._outdir is not None:
            shutil.rmtree(self._outdir, ignore_errors=True)
        self._workdir = None

    @property
    def has_directory(self) -> bool:
        """Whether this attempt made a directory :meth:`close` must remove."""
        return self._workdir is not None and (self._own_workdir or self._outdir is not None)

    def require_storage(self) -> LocalStorage:
        if self.storage is None:
            raise TaskFailure("internal storage is not available to this worker", retryable=False)
        return self.storage

    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    # -- the job runner's own reads --------------------------------------------------------------

    async def render_value(self, value: Any, *, typed: bool) -> Any:
        """Render a property value (strings inside maps and lists too)."""
        return await render_tree(self.templates, value, self.variables, typed=typed)

    async def text(self, name: str, default: str | None = None) -> str | None:
        value = self.spec.properties.get(name, default)
        if value is None:
            return None
        rendered = await self.render_value(_as_text(value), typed=False)
        return str(rendered)

    async def typed(self, name: str, default: Any = None) -> Any:
        value = self.spec.properties.get(name, default)
        return None if value is None else await self.render_value(value, typed=True)

    def log(self, level: LogLevel | str, message: str) -> None:
        """Log one line now (error paths, short tasks)."""
        self.logger.log(level, message)

    async def alog(self, level: LogLevel | str, message: str) -> None:
        """Log one line, waiting for room in the log writer first (long loops, streams)."""
        await self.logger.alog(level, message)


async def render_tree(
    templates: TemplateEngine, value: Any, variables: Mapping[str, Any], *, typed: bool
) -> Any:
    """Render ``value``; in a thread when it calls server functions (``kv()``, ``read()``...),
    which block on the store while the event loop must stay free to serve them."""
    if _uses_runtime(templates, value):
        return await asyncio.to_thread(templates.render_tree, value, variables, typed=typed)
    return templates.render_tree(value, variables, typed=typed)


def _uses_runtime(templates: TemplateEngine, value: Any) -> bool:
    if isinstance(value, str):
        return templates.uses_runtime(value)
    if isinstance(value, Mapping):
        return any(
            _uses_runtime(templates, k) or _uses_runtime(templates, v) for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return any(_uses_runtime(templates, item) for item in value)
    return False


def _as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _files_below(root: Path) -> list[str]:
    """The relative paths of the files below ``root`` (none when it does not exist)."""
    if not root.is_dir():
        return []
    return sorted(
        item.relative_to(root).as_posix()
        for item in root.rglob("*")
        if item.is_file() and not item.name.endswith(".part")
    )


def _copy_tree(root: Path, target: Path, include: list[str], exclude: list[str]) -> list[str]:
    """Copy the files below ``root`` whose relative path passes the globs into ``target``."""
    copied: list[str] = []
    if not root.is_dir():
        return copied
    base = target.resolve()
    for item in sorted(root.rglob("*")):
        if not item.is_file() or item.name.endswith(".part"):
            continue
        relative = item.relative_to(root).as_posix()
        if include and not matches(relative, include):
            continue
        if exclude and matches(relative, exclude):
            continue
        destination = (target / relative).resolve()
        if not destination.is_relative_to(base):
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item, destination)
        copied.append(relative)
    return copied
