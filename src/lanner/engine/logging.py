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

from collections.abc import Iterable, Sequence
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
    """The logger of one task run attempt. ``lines`` keeps the lines when there is no writer."""

    execution: Execution
    run: TaskRun
    attempt: int
    writer: LogWriter | None = None
    masker: Masker | None = None
    min_level: LogLevel = LogLevel.TRACE
    thread: str | None = None
    lines: list[LogEntry] = field(default_factory=list)

    def is_enabled(self, level: LogLevel) -> bool:
        return level.is_at_least(self.min_level)

    def log(self, level: LogLevel | str, message: str) -> None:
        """Write one line now (never waits; use :meth:`alog` in long loops)."""
        level = level if isinstance(level, LogLevel) else parse_level(level)
        if not level.is_at_least(self.min_level):
            return
        if self.masker is not None:
            message = self.masker.mask(message)
        execution, run = self.execution, self.run
        entry = LogEntry(
            tenant_id=execution.tenant_id,
            namespace=execution.namespace,
            flow_id=execution.flow_id,
            execution_id=execution.id,
            task_run_id=run.id,
            task_id=run.task_id,
            attempt_number=self.attempt,
            level=level,
            message=message,
            timestamp=datetime.now(UTC),
            thread=self.thread,
        )
        if self.writer is None:
            self.lines.append(entry)
        else:
            self.writer.write((entry,))

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
            masked = self.masker.mask("\n".join(messages))
            messages = masked.split("\n")
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
