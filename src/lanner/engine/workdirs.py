"""Working directories of task attempts, the one a ``WorkingDirectory`` task's children share,
and the metrics a finished attempt recorded.

Design of ``io.kestra.plugin.core.flow.WorkingDirectory``: the executor runs it as a
``Sequential`` (its children one after the other); the worker gives each child, instead of a
fresh directory, ``<work root>/wd-<WorkingDirectory task run id>``. The first child to run
creates it and writes the WorkingDirectory's ``inputFiles`` and ``namespaceFiles`` into it;
after the last child of ``tasks`` the WorkingDirectory's ``outputFiles`` are uploaded (they
reach the WorkingDirectory's task run as ``outputs.outputFiles`` through the child's result,
``parentOutputs``) and the directory is removed — also after a child that failed, since the
sequence stops there (a retried child starts from a new directory with the inputs again).
The directory is local to the worker: the children must run on the same worker (always so in
one process; across worker processes a child claimed elsewhere sees an empty directory).
``cache`` is accepted and not used.

The work root is per process (``<tmp>/lanner-work/<pid>``); the roots of dead processes are
removed when a new one is made. Imports the domain, storage, ``lanner.tasks`` and this package.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanner.domain.executions import TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.logs import LogLevel
from lanner.domain.metrics import TIMER, MetricEntry
from lanner.engine.snapshots import Snapshot
from lanner.engine.task_context import TaskContext
from lanner.engine.work import WORKING_DIRECTORY
from lanner.storage import task_file_path, uri_of
from lanner.store import NewEvent
from lanner.tasks.scripts.files import (
    copy_namespace_files,
    find_output_files,
    write_input_files,
)

_ROOTS: dict[int, Path] = {}


def default_work_root() -> Path:
    """This process's work root; the ones of processes no longer alive are swept first."""
    pid = os.getpid()
    if pid not in _ROOTS:
        base = Path(tempfile.gettempdir()) / "lanner-work"
        base.mkdir(parents=True, exist_ok=True)
        for entry in base.iterdir():
            if entry.name.isdigit() and int(entry.name) != pid and not _alive(int(entry.name)):
                shutil.rmtree(entry, ignore_errors=True)
        _ROOTS[pid] = base / str(pid)
    return _ROOTS[pid]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def metric_entries(ctx: TaskContext) -> list[MetricEntry]:
    """The metrics ``ctx`` recorded, as stored (timers in milliseconds, as Kestra)."""
    run = ctx.run
    return [
        MetricEntry(
            tenant_id=run.tenant_id,
            namespace=run.namespace,
            flow_id=run.flow_id,
            execution_id=run.execution_id,
            task_id=run.task_id,
            task_run_id=run.id,
            type=m.kind,
            name=m.name,
            value=m.value * 1000 if m.kind == TIMER else m.value,
            timestamp=m.timestamp,
            tags=dict(m.tags),
        )
        for m in ctx.metrics
    ]


class SharedDirectories:
    """Finds the shared directory of a task run whose parent is a ``WorkingDirectory``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def of(self, snapshot: Snapshot, run: TaskRun) -> SharedDirectory | None:
        if run.parent_task_run_id is None:
            return None
        parent = snapshot.runs.get(run.parent_task_run_id)
        if parent is None:
            return None
        spec = snapshot.specs.get(parent.task_id)
        if spec is None or spec.type != WORKING_DIRECTORY:
            return None
        return SharedDirectory(self.root / f"wd-{parent.id}", spec, parent, run)


@dataclass(slots=True)
class SharedDirectory:
    path: Path
    spec: TaskSpec
    parent: TaskRun
    child: TaskRun

    async def prepare(self, ctx: TaskContext) -> None:
        """Create the directory with the WorkingDirectory's input files, the first time."""
        if self.path.exists():
            return
        await asyncio.to_thread(self.path.mkdir, parents=True)
        props = self.spec.properties
        workdir = ctx.working_directory()
        await write_input_files(ctx, workdir, props.get("inputFiles"))
        await copy_namespace_files(ctx, workdir, props.get("namespaceFiles"))
        if props.get("cache") is not None:
            ctx.log(LogLevel.WARN, "WorkingDirectory cache is not used by this server")

    def is_last(self) -> bool:
        children = self.spec.branch("tasks")
        return self.child.branch == "tasks" and bool(children) and (
            children[-1].id == self.child.task_id
        )  # fmt: skip

    async def after_child(self, ctx: TaskContext, event: NewEvent) -> NewEvent:
        """After the last child: the output files uploaded and named in the event; the
        directory removed after the last child or a failed one."""
        state = event.payload.get("state")
        last = self.is_last()
        if last and state not in ("FAILED", "KILLED"):
            patterns = self.spec.properties.get("outputFiles")
            if patterns:
                rendered: Any = await ctx.render_typed(patterns)
                names = [rendered] if isinstance(rendered, str) else [str(p) for p in rendered]
                files = await asyncio.to_thread(find_output_files, self.path, names, None)
                uploaded = {name: await self._upload(ctx, name, path) for name, path in files}
                payload = {**event.payload, "parentOutputs": {"outputFiles": uploaded}}
                event = NewEvent(event.execution_id, event.kind, payload)
        if last or state in ("FAILED", "KILLED"):
            await asyncio.to_thread(self.remove)
        return event

    async def _upload(self, ctx: TaskContext, name: str, path: Path) -> str:
        run = self.parent
        target = task_file_path(
            run.namespace, run.flow_id, run.execution_id, run.task_id, run.id, name
        )
        storage = ctx.require_storage()
        with path.open("rb") as source:
            await storage.put(run.tenant_id, target, source)
        return uri_of(target)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
