"""Loggers of task runs and the engine's own log lines, worded as Kestra words them.

A :class:`TaskLogger` stamps every line with the execution's and the task run's ids, the
attempt number and the time, drops lines below the task's ``logLevel``, masks secret values and
hands the line to the :class:`~lanner.engine.logwriter.LogWriter` (or keeps it, without one).
Masking is a :class:`Masker` (the runtime functions' ``SecretMasks`` registry), applied to
every message before it leaves the logger.
The engine's events become lines too: ``Flow started``, ``Flow completed with state X in
HH:mm:ss.SSS``, ``Type Log started``, ``Type Log with state SUCCESS completed in ...``, kills,
restarts and retries (:func:`execution_lines`, :func:`task_started`, :func:`task_completed`).
Imports the domain and this package; named ``logging`` for its role, it never shadows the
standard library inside the package because every import here is absolute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from lanner.domain.executions import Execution, TaskRun
from lanner.domain.logs import LogEntry, LogLevel, lines_like, parse_level
from lanner.domain.states import StateType
from lanner.engine.logwriter import LogWriter

S = StateType


class Masker(Protocol):
    """Hides secret values: the runtime functions' registry of the secrets they handed out."""

    def mask(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``******``."""
        ...


def human_duration(duration: timedelta | None) -> str:
    """Kestra's ``humanDuration()``: ``HH:mm:ss.SSS``."""
    millis = max(int((duration or timedelta(0)).total_seconds() * 1000), 0)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def simple_type(task_type: str) -> str:
    """``io.kestra.plugin.core.log.Log`` → ``Log`` (Java's simple class name)."""
    return task_type.rsplit(".", 1)[-1]


@dataclass(slots=True)
class TaskLogger:
    """The logger of one task run attempt. ``lines`` keeps the lines when there is no writer.

    The ids a line carries are read once, at construction (the execution, the task run and the
    attempt of a logger never change): each line is then built through the entry's slots, not
    the frozen ``__init__``'s keyword parsing — the cost of a line is its time stamp, its
    masking and the hand-over to the writer.
    """

    execution: Execution
    run: TaskRun
    attempt: int
    writer: LogWriter | None = None
    masker: Masker | None = None
    min_level: LogLevel = LogLevel.TRACE
    thread: str | None = None
    lines: list[LogEntry] = field(default_factory=list)
    _fixed: list[tuple[Callable[[LogEntry, object], None], object]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        execution, run = self.execution, self.run
        template = LogEntry(
            tenant_id=execution.tenant_id,
            namespace=execution.namespace,
            flow_id=execution.flow_id,
            execution_id=execution.id,
            task_run_id=run.id,
            task_id=run.task_id,
            attempt_number=self.attempt,
            level=LogLevel.INFO,
            message="",
            timestamp=_EPOCH,
            thread=self.thread,
        )
        self._fixed = [
            (slot.__set__, getattr(template, name))
            for name, slot in _ENTRY_SLOTS
            if name not in _PER_LINE
        ]

    def is_enabled(self, level: LogLevel) -> bool:
        return level.is_at_least(self.min_level)

    def log(self, level: LogLevel | str, message: str) -> None:
        """Write one line now (never waits; use :meth:`alog` in long loops)."""
        if not isinstance(level, LogLevel):
            level = parse_level(level)
        if self.min_level is not _TRACE and not level.is_at_least(self.min_level):
            return
        if self.masker is not None:
            message = self.masker.mask(message)
        entry = _new(LogEntry)
        for set_field, value in self._fixed:
            set_field(entry, value)
        _set_level(entry, level)
        _set_message(entry, message)
        _set_timestamp(entry, _now(UTC))
        if self.writer is None:
            self.lines.append(entry)
        else:
            self.writer.write_one(entry)

    async def alog(self, level: LogLevel | str, message: str) -> None:
        """Write one line, first waiting for room when the writer's buffer is full."""
        writer = self.writer
        if writer is not None and writer.is_congested:
            await writer.wait_for_room()
        self.log(level, message)

    def log_many(self, level: LogLevel, messages: Sequence[str]) -> None:
        """Write lines of one level at once: one level check, one masking pass over the
        chunk, one time stamp and one hand-over to the writer."""
        if not messages or not level.is_at_least(self.min_level):
            return
        if self.masker is not None:
            messages = mask_all(self.masker, messages)
        execution, run = self.execution, self.run
        template = LogEntry(
            tenant_id=execution.tenant_id,
            namespace=execution.namespace,
            flow_id=execution.flow_id,
            execution_id=execution.id,
            task_run_id=run.id,
            task_id=run.task_id,
            attempt_number=self.attempt,
            level=level,
            message="",
            timestamp=datetime.now(UTC),
            thread=self.thread,
        )
        entries = lines_like(template, messages)
        if self.writer is None:
            self.lines.extend(entries)
        else:
            self.writer.write(entries)

    async def alog_many(self, level: LogLevel, messages: Sequence[str]) -> None:
        """:meth:`log_many`, first waiting for room when the writer's buffer is full."""
        writer = self.writer
        if writer is not None and writer.is_congested:
            await writer.wait_for_room()
        self.log_many(level, messages)


def mask_all(masker: Masker, messages: Sequence[str]) -> Sequence[str]:
    """Every message masked: one pass over the chunk joined by newlines when no message holds
    one (a script's output lines), else one per message. A secret spanning two messages of
    the joined text removes a newline, so then too the lines are masked one by one."""
    joined = "\n".join(messages)
    if joined.count("\n") == len(messages) - 1:
        masked = masker.mask(joined).split("\n")
        if len(masked) == len(messages):
            return masked
    return [masker.mask(message) for message in messages]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRACE = LogLevel.TRACE
_PER_LINE = frozenset({"level", "message", "timestamp"})
_ENTRY_SLOTS = [(name, LogEntry.__dict__[name]) for name in LogEntry.__slots__]
_set_level = LogEntry.__dict__["level"].__set__
_set_message = LogEntry.__dict__["message"].__set__
_set_timestamp = LogEntry.__dict__["timestamp"].__set__
_new = object.__new__
_now = datetime.now


# --- the engine's lines ---------------------------------------------------------------------


def execution_line(
    execution: Execution, level: LogLevel, message: str, at: datetime, run: TaskRun | None = None
) -> LogEntry:
    return LogEntry(
        tenant_id=execution.tenant_id,
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        execution_id=execution.id,
        task_run_id=run.id if run is not None else None,
        task_id=run.task_id if run is not None else None,
        attempt_number=max(len(run.attempts), 1) if run is not None else None,
        level=level,
        message=message,
        timestamp=at,
    )


def execution_lines(
    before: Execution | None, after: Execution | None, runs: Iterable[TaskRun], at: datetime
) -> list[LogEntry]:
    """The lines an executor decision deserves: the execution's state changes, retries."""
    lines: list[LogEntry] = []
    if after is not None:
        old = before.state.current if before is not None else None
        new = after.state.current
        if new is not old:
            lines.extend(_state_lines(after, old, new, at))
    target = after or before
    if target is not None:
        for run in runs:
            if run.state.current is S.RETRYING and run.state.histories[-1].date == at:
                lines.append(
                    execution_line(
                        target,
                        LogLevel.WARN,
                        f"Task {run.task_id} failed on attempt {len(run.attempts)}, "
                        "it will be retried",
                        at,
                        run,
                    )
                )
    return lines


def _state_lines(
    execution: Execution, old: StateType | None, new: StateType, at: datetime
) -> list[LogEntry]:
    lines: list[LogEntry] = []
    if new is S.RUNNING and old in (None, S.CREATED, S.QUEUED):
        lines.append(execution_line(execution, LogLevel.INFO, "Flow started", at))
    elif new is S.RESTARTED:
        message = f"Execution restarted (attempt {execution.attempt_number})"
        lines.append(execution_line(execution, LogLevel.INFO, message, at))
    elif new is S.KILLING:
        lines.append(execution_line(execution, LogLevel.WARN, "Execution is being killed", at))
    elif new is S.QUEUED:
        message = "Execution is queued due to concurrency limit exceeded"
        lines.append(execution_line(execution, LogLevel.INFO, message, at))
    if new.is_terminated and (old is None or not old.is_terminated):
        duration = (execution.state.end_date or at) - execution.state.start_date
        message = f"Flow completed with state {new.value} in {human_duration(duration)}"
        lines.append(execution_line(execution, LogLevel.INFO, message, at))
    return lines


def task_started(logger: TaskLogger, task_type: str) -> None:
    logger.log(LogLevel.INFO, f"Type {simple_type(task_type)} started")


def task_completed(logger: TaskLogger, task_type: str, state: str, duration: timedelta) -> None:
    logger.log(
        LogLevel.INFO,
        f"Type {simple_type(task_type)} with state {state} completed in {human_duration(duration)}",
    )
