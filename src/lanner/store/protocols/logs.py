"""The store's contract for log lines (the ``Log`` task's and the worker's).

Imports only the standard library and the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lanner.domain.logs import LogEntry, LogLevel
from lanner.store.protocols.pages import DEFAULT_TENANT, Page


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Search criteria for log lines; every given criterion must hold (AND).

    ``namespace`` matches the namespace and its children; ``flow_id``, ``execution_id`` and
    ``trigger_id`` are exact; ``min_level`` keeps that level and more severe ones; dates bound
    ``timestamp`` (``start_date`` inclusive, ``end_date`` exclusive); ``q`` is a
    case-insensitive substring of the message. ``sort`` holds ``(field, descending)`` over
    ``timestamp``, ``level``, ``namespace``, ``flowId``, ``executionId``, ``taskId``; default
    newest first.
    """

    tenant_id: str = DEFAULT_TENANT
    namespace: str | None = None
    flow_id: str | None = None
    execution_id: str | None = None
    trigger_id: str | None = None
    min_level: LogLevel | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    q: str | None = None
    page: int = 1
    size: int = 10
    sort: Sequence[tuple[str, bool]] = ()


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
        limit: int | None = None,
    ) -> list[LogEntry]:
        """The execution's lines in ``seq`` order, with ``seq`` set, filtered: at least
        ``min_level``, of one task run, of one task id, of one attempt number, and only
        those numbered above ``after_seq`` (a follower's position); the first ``limit``."""
        ...

    async def search_logs(self, query: LogQuery) -> Page[LogEntry]:
        """Lines of any execution (or trigger) matching ``query``: one page, with the total."""
        ...

    async def delete_logs(
        self,
        tenant_id: str,
        execution_id: str,
        *,
        min_level: LogLevel | None = None,
        task_run_id: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
    ) -> int:
        """Delete the execution's lines matching the filters (as :meth:`list_logs`); how many.
        Later lines keep numbering after the deleted ones (followers never go back)."""
        ...

    async def delete_flow_logs(
        self, tenant_id: str, namespace: str, flow_id: str, *, trigger_id: str | None = None
    ) -> int:
        """Delete every line of the flow (of one of its triggers when ``trigger_id``)."""
        ...

    async def purge_logs(
        self,
        before: datetime,
        *,
        tenant_id: str | None = None,
        namespace: str | None = None,
        flow_id: str | None = None,
        levels: Sequence[LogLevel] = (),
        after: datetime | None = None,
        execution_id: str | None = None,
        of_executions: bool | None = None,
    ) -> int:
        """Delete lines older than ``before`` (of one tenant, namespace and its children, flow,
        levels, execution, not older than ``after``, when given; only executions' lines when
        ``of_executions`` is True, only the others — triggers' — when False), in bounded
        transactions so writers are never held up long; returns how many."""
        ...
