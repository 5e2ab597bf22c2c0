"""What a running task sees: the :class:`RunContext` protocol (and :class:`Runnable`).

A task's ``run(ctx)`` renders its properties through the context (they may be Pebble
expressions, validated after rendering), logs through ``ctx.logger``, reaches the KV store,
secrets, metrics, internal storage and a working directory through it, and returns its outputs
(or ``None``). It fails by raising :class:`~lanner.tasks.failures.TaskFailure` (any other
exception fails the task too). The engine implements the protocol
(``lanner.engine.task_context.TaskContext``); tests may implement it with a fake.
Imports the domain and the standard library only (the store and storage only for type
checking); never the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lanner.domain.executions import Execution, TaskRun
from lanner.domain.logs import LogLevel

if TYPE_CHECKING:
    from lanner.storage import NamespaceFiles
    from lanner.store import KVStore, Store, TriggerStore

Outputs = Mapping[str, Any] | None
"""What ``run`` returns: the task run's outputs, or ``None`` for none."""

# Changes a task asks of its execution (``RunContext.update_execution``); the executor applies
# them with the task's result, in the transaction that ends the task run.
LABELS = "labels"
"""``[[key, value], ...]``: set these execution labels (replacing a key's value)."""
SET_VARIABLES = "setVariables"
"""``{name: value}``: deep-merged into the execution's variables (``{{ vars.* }}``)."""
UNSET_VARIABLES = "unsetVariables"
"""``[dotted.name, ...]``: removed from the execution's variables."""
EXIT = "exit"
"""A state name: the task run and the execution end in it now (KILLED kills the execution)."""
KILL = "kill"
"""``{executionId, propagate}``: kill that execution (this one when ``executionId`` is None)."""
RESUME = "resume"
"""``{executionId, inputs}``: resume that paused execution."""


class TaskLog(Protocol):
    """The logger of one task run attempt (filtered by the task's ``logLevel``, masked)."""

    def is_enabled(self, level: LogLevel) -> bool:
        """Whether a line at ``level`` would be written (skip expensive messages otherwise)."""
        ...

    def log(self, level: LogLevel | str, message: str) -> None:
        """Write one line now (never waits)."""
        ...

    async def alog(self, level: LogLevel | str, message: str) -> None:
        """Write one line, first waiting for room in the log writer (long loops, streams)."""
        ...

    async def alog_many(self, level: LogLevel, messages: Sequence[str]) -> None:
        """Write lines of one level at once (a script's output chunk), like :meth:`alog`."""
        ...


class RunContext(Protocol):
    """The engine's services to one attempt of one task run."""

    @property
    def execution(self) -> Execution:
        """The execution the task runs in (tenant, namespace, flow, labels...)."""
        ...

    @property
    def task_run(self) -> TaskRun:
        """The task run (id, task id, value of the enclosing loop iteration)."""
        ...

    @property
    def attempt(self) -> int:
        """The attempt number, from 1."""
        ...

    @property
    def logger(self) -> TaskLog:
        """The task run's logger."""
        ...

    # -- rendering -----------------------------------------------------------------------------

    async def render(self, value: Any) -> str | None:
        """Render a property as text (``None`` stays ``None``; numbers and booleans as text)."""
        ...

    async def render_typed(self, value: Any) -> Any:
        """Render a property keeping types: an expression alone gives its value (a number, a
        list...); maps and lists are rendered item by item."""
        ...

    async def render_with(self, value: Any, variables: Mapping[str, Any]) -> str | None:
        """Render a property as text with ``variables`` added over the run's own (an item of
        a file for ``FilterItems``/``DeduplicateItems``, ``execution.Count``'s ``{{ count }}``;
        Kestra's ``render(expr, map)``)."""
        ...

    # -- services ------------------------------------------------------------------------------

    @property
    def kv(self) -> KVStore | None:
        """The namespace key-value store (``None`` when this worker has none)."""
        ...

    @property
    def triggers(self) -> TriggerStore | None:
        """Triggers' state (``trigger.Toggle``); ``None`` when this worker has none."""
        ...

    @property
    def store(self) -> Store | None:
        """The store, for the tasks about executions and logs (``Count``, ``Resume``,
        ``log.Fetch``, the purges); ``None`` when this worker has none."""
        ...

    def update_execution(self, kind: str, value: Any) -> None:
        """Ask the executor to change the execution when the task succeeds (one of the kinds
        above: ``LABELS``, ``SET_VARIABLES``, ``UNSET_VARIABLES``, ``EXIT``, ``KILL``,
        ``RESUME``); values must be JSON-able."""
        ...

    async def delete_files_of_execution(
        self, namespace: str, flow_id: str, execution_id: str
    ) -> bool:
        """Remove any execution's internal-storage files (a purge); whether any existed."""
        ...

    async def secret(self, key: str) -> str:
        """A secret's value (masked in every log line from then on)."""
        ...

    def metric(
        self,
        name: str,
        value: float,
        *,
        kind: str = "counter",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Record a metric of the task run (``counter`` or ``timer`` in seconds)."""
        ...

    async def put_file(self, name: str, content: bytes | Path) -> str:
        """Store a file (bytes, or a local file copied as it is) in the task run's internal
        storage (``.../tasks/<taskId>/<taskRunId>/<name>``); returns its ``kestra://`` URI."""
        ...

    async def read_file(self, uri: str) -> bytes:
        """Read a ``kestra://`` file of internal storage: one of this execution's or of its
        namespace's files (anything else is refused)."""
        ...

    async def file_size(self, uri: str) -> int:
        """The size of a ``kestra://`` file (same access rule as :meth:`read_file`)."""
        ...

    async def delete_file(self, uri: str) -> bool:
        """Delete a ``kestra://`` file (same access rule as :meth:`read_file`); whether it
        existed."""
        ...

    async def delete_execution_files(self) -> list[str]:
        """Delete every internal-storage file of this execution; returns their URIs."""
        ...

    def namespace_files(self) -> NamespaceFiles:
        """The namespace files of the execution's tenant (any namespace)."""
        ...

    def working_directory(self) -> Path:
        """The attempt's working directory, created on first call and removed after the
        attempt (inside a ``WorkingDirectory`` task: the one its children share). From then on
        ``{{ workingDir }}`` renders to it."""
        ...

    def output_directory(self) -> Path:
        """A directory inside the working directory whose files become the task's
        ``outputFiles``; from then on ``{{ outputDir }}`` renders to it."""
        ...

    async def copy_namespace_files(
        self, target: Path, include: Sequence[str] | None, exclude: Sequence[str] | None
    ) -> list[str]:
        """Copy the namespace's files (glob ``include``/``exclude`` on their paths) under
        ``target``; returns the relative paths copied."""
        ...

    def is_cancelled(self) -> bool:
        """Whether the run is being killed: long loops stop early when it is (the engine also
        cancels the ``run`` coroutine)."""
        ...


@runtime_checkable
class Runnable(Protocol):
    """A task type with a runtime: its validated properties and ``run`` together."""

    async def run(self, ctx: RunContext) -> Outputs:
        """Do the task's work; return its outputs."""
        ...
