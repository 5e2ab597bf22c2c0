"""The store's contract for log lines (the ``Log`` task's and the worker's).

Imports only the standard library and the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lanner.domain.logs import LogEntry, LogLevel


class LogStore(Protocol):
    """Log lines, numbered per execution in write order."""

    async def add_logs(self, entries: Sequence[LogEntry]) -> None:
        """Store ``entries`` in one transaction. The lines of each execution get the next
        numbers of its sequence (``seq``), in the order given; their own ``seq`` is ignored.
        Lines without an execution (a trigger's) get no ``seq``."""
        ...

    async def list_logs(
        self,
        tenant_id: str,
        execution_id: str,
        *,
        min_level: LogLevel | None = None,
        task_run_id: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
        after_seq: int | None = None,
    ) -> list[LogEntry]:
        """The execution's lines in ``seq`` order, with ``seq`` set, filtered: at least
        ``min_level``, of one task run, of one task id, of one attempt number, and only
        those numbered above ``after_seq`` (a follower's position)."""
        ...
