"""Log lines of executions (and triggers): frozen data and Kestra's five levels.

A :class:`LogEntry` is what a task's logger or the ``Log`` task writes; the store numbers the
lines of one execution (``seq``) so readers and followers see them in write order. Imports only
the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class LogLevel(StrEnum):
    """Kestra's log levels, from the most verbose to the most severe."""

    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"

    @property
    def severity(self) -> int:
        """0 for TRACE … 4 for ERROR: compare levels with this."""
        return _SEVERITY[self]

    def is_at_least(self, minimum: LogLevel) -> bool:
        """Whether a line at this level passes a ``minimum`` level filter."""
        return _SEVERITY[self] >= _SEVERITY[minimum]

    @classmethod
    def at_least(cls, minimum: LogLevel) -> tuple[LogLevel, ...]:
        """Every level that passes a ``minimum`` filter, least severe first."""
        return tuple(level for level in cls if level.is_at_least(minimum))


_SEVERITY: dict[LogLevel, int] = {level: rank for rank, level in enumerate(LogLevel)}


def parse_level(value: LogLevel | str | None, default: LogLevel = LogLevel.INFO) -> LogLevel:
    """A level from a task property (``info``, ``WARNING`` and ``WARN`` alike)."""
    if value is None or value == "":
        return default
    text = str(value).strip().upper()
    if text == "WARNING":
        return LogLevel.WARN
    return LogLevel(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One log line. ``seq`` is the store's per-execution order, set when read back.

    Lines of an execution carry its ids; a trigger's lines carry ``trigger_id`` and no
    execution. ``timestamp`` is timezone-aware UTC.
    """

    tenant_id: str
    namespace: str
    level: LogLevel
    message: str
    timestamp: datetime
    flow_id: str | None = None
    execution_id: str | None = None
    task_run_id: str | None = None
    task_id: str | None = None
    attempt_number: int | None = None
    trigger_id: str | None = None
    thread: str | None = None
    seq: int | None = None


def lines_like(template: LogEntry, messages: Iterable[str]) -> list[LogEntry]:
    """One entry per message, every other field as in ``template`` (a script's output
    chunk). Built field by field through the slots, without the frozen ``__init__``'s
    keyword parsing: the same values as ``dataclasses.replace(template, message=m)``, at
    about half the cost, on the hottest path of a script's output."""
    setters = [
        (slot.__set__, getattr(template, name)) for name, slot in _SLOTS if name != "message"
    ]
    set_message = _MESSAGE_SLOT.__set__
    new = object.__new__
    entries = []
    for message in messages:
        entry = new(LogEntry)
        for set_field, value in setters:
            set_field(entry, value)
        set_message(entry, message)
        entries.append(entry)
    return entries


_SLOTS = [(name, LogEntry.__dict__[name]) for name in LogEntry.__slots__]
_MESSAGE_SLOT = LogEntry.__dict__["message"]
