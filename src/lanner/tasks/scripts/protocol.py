"""Kestra's output protocol on a script's stdout/stderr, and the log level of each line.

A line ``::{"outputs": {...}}::`` adds task outputs (``vars``), ``::{"logs": [{"level",
"message"}]}::`` log entries and ``::{"metrics": [{"name", "type", "value", "tags"}]}::``
metrics (recorded on the context; the worker stores them); such a line is not logged itself.
Any other line is logged: stdout at INFO, stderr at ERROR (Kestra 0.21+). Lines come in chunks
(:meth:`OutputConsumer.accept_many`): runs of plain lines are logged with one call. Imports
``lanner.tasks`` and the standard library only.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Sequence
from typing import Any

from lanner.domain.logs import LogLevel, parse_level
from lanner.tasks.context import RunContext

_COMMAND = re.compile(r"^::(\{.*\})::$")
STDERR_TAIL = 10


_ALIASES = {"CRITICAL": LogLevel.ERROR, "FATAL": LogLevel.ERROR, "SEVERE": LogLevel.ERROR}


def _level(value: Any) -> LogLevel:
    """A log entry's level: Python's ``WARNING``/``CRITICAL`` too; INFO when unknown."""
    text = str(value or "INFO").strip().upper()
    if text in _ALIASES:
        return _ALIASES[text]
    try:
        return parse_level(text)
    except ValueError:
        return LogLevel.INFO


class OutputConsumer:
    """Takes a script's lines as they come: logs them or applies the protocol."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.vars: dict[str, Any] = {}
        self.stdout_lines = 0
        self.stderr_lines = 0
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)

    @property
    def last_stderr(self) -> list[str]:
        """The last :data:`STDERR_TAIL` lines of stderr."""
        return list(self._stderr_tail)

    async def accept_many(self, lines: Sequence[str], *, is_stderr: bool) -> None:
        """A chunk of lines in order: plain runs logged at once, protocol lines applied."""
        if is_stderr:
            self._stderr_tail.extend(lines[-STDERR_TAIL:])
        level = LogLevel.ERROR if is_stderr else LogLevel.INFO
        start = 0
        for index, line in enumerate(lines):
            if line.startswith("::") and _COMMAND.match(line.rstrip()):
                if index > start:
                    await self._log_run(level, lines[start:index], is_stderr)
                await self.accept(line, is_stderr=is_stderr)
                start = index + 1
        if start < len(lines):
            await self._log_run(level, lines[start:] if start else lines, is_stderr)

    async def _log_run(self, level: LogLevel, lines: Sequence[str], is_stderr: bool) -> None:
        if is_stderr:
            self.stderr_lines += len(lines)
        else:
            self.stdout_lines += len(lines)
        await self.ctx.logger.alog_many(level, lines)

    async def accept(self, line: str, *, is_stderr: bool) -> None:
        if is_stderr:
            self.stderr_lines += 1
        else:
            self.stdout_lines += 1
        match = _COMMAND.match(line.rstrip()) if line.startswith("::") else None
        if match is None:
            if is_stderr:
                self._stderr_tail.append(line)
            await self.ctx.logger.alog(LogLevel.ERROR if is_stderr else LogLevel.INFO, line)
            return
        try:
            command = json.loads(match.group(1))
            if not isinstance(command, dict):
                raise ValueError("not a JSON object")
            await self._apply(command)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            await self.ctx.logger.alog(LogLevel.WARN, f"Invalid outputs '{error}'")

    async def _apply(self, command: dict[str, Any]) -> None:
        outputs = command.get("outputs")
        if isinstance(outputs, dict):
            self.vars.update(outputs)
        for entry in command.get("logs") or ():
            level = _level(entry.get("level"))
            await self.ctx.logger.alog(level, str(entry.get("message", "")))
        for metric in command.get("metrics") or ():
            tags = metric.get("tags") or {}
            self.ctx.metric(
                str(metric["name"]),
                float(metric["value"]),
                kind=str(metric.get("type") or "counter"),
                tags={str(k): str(v) for k, v in dict(tags).items()},
            )
