"""The store's contract for task metrics (counters and timers of task runs).

Imports only the standard library and the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lanner.domain.metrics import MetricEntry
from lanner.store.protocols.pages import Page


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """The metrics of one execution, optionally of one task run or task id, one page.
    ``sort`` holds ``(field, descending)`` over ``timestamp``, ``name``, ``type``, ``value``,
    ``taskId``; default oldest first (write order)."""

    tenant_id: str
    execution_id: str
    task_run_id: str | None = None
    task_id: str | None = None
    page: int = 1
    size: int = 10
    sort: Sequence[tuple[str, bool]] = ()


class MetricStore(Protocol):
    """Metrics recorded by task runs."""

    async def add_metrics(self, entries: Sequence[MetricEntry]) -> None:
        """Store ``entries`` in one transaction."""
        ...

    async def search_metrics(self, query: MetricQuery) -> Page[MetricEntry]:
        """One page of an execution's metrics, with the total."""
        ...

    async def metric_names(
        self, tenant_id: str, namespace: str, flow_id: str, task_id: str | None = None
    ) -> list[str]:
        """The distinct names of a flow's (or one of its tasks') metrics, sorted."""
        ...

    async def metric_tasks(self, tenant_id: str, namespace: str, flow_id: str) -> list[str]:
        """The distinct ids of a flow's tasks that recorded metrics, sorted."""
        ...

    async def delete_execution_metrics(self, tenant_id: str, execution_id: str) -> int:
        """Remove an execution's metrics; returns how many."""
        ...
