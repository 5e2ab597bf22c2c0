"""Metric queries: sync functions of a SQLAlchemy ``Connection``, run on the writer or a reader.

Imports SQLAlchemy, the schema and the domain; never the engine or the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, func, insert, select

from lanner.domain.metrics import MetricEntry
from lanner.errors import ErrorDetail, IllegalArgumentError
from lanner.store.protocols.metrics import MetricQuery
from lanner.store.protocols.pages import Page
from lanner.store.sqlalchemy.bulk import BulkStatement
from lanner.store.sqlalchemy.schema import metrics

MAX_PAGE_SIZE = 10_000

_SORT_COLUMNS = {
    "timestamp": metrics.c.timestamp,
    "name": metrics.c.name,
    "type": metrics.c.type,
    "value": metrics.c.value,
    "taskId": metrics.c.task_id,
}

_INSERT = BulkStatement(insert(metrics))


def add_metrics(conn: Connection, entries: Sequence[MetricEntry]) -> None:
    if entries:
        _INSERT.execute(conn, [_values(entry) for entry in entries])


def search_metrics(conn: Connection, query: MetricQuery) -> Page[MetricEntry]:
    if query.page < 1 or query.size < 1 or query.size > MAX_PAGE_SIZE:
        raise IllegalArgumentError(
            "Illegal argument: page must be >= 1 and size between 1 and 10000",
            [ErrorDetail("size" if query.page >= 1 else "page", "out of range")],
        )
    conditions: list[ColumnElement[bool]] = [
        metrics.c.tenant_id == query.tenant_id,
        metrics.c.execution_id == query.execution_id,
    ]
    if query.task_id is not None:
        conditions.append(metrics.c.task_id == query.task_id)
    elif query.task_run_id is not None:
        conditions.append(metrics.c.task_run_id == query.task_run_id)
    order = []
    for name, descending in query.sort:
        column = _SORT_COLUMNS.get(name)
        if column is None:
            raise IllegalArgumentError(
                f"Illegal argument: cannot sort metrics by '{name}'",
                [ErrorDetail("sort", f"unknown field '{name}'")],
            )
        order.append(column.desc() if descending else column.asc())
    order.append(metrics.c.id.asc())
    total = conn.execute(select(func.count()).select_from(metrics).where(*conditions)).scalar_one()
    rows = conn.execute(
        select(metrics)
        .where(*conditions)
        .order_by(*order)
        .limit(query.size)
        .offset((query.page - 1) * query.size)
    ).all()
    return Page([_to_entry(row) for row in rows], int(total))


def metric_names(
    conn: Connection, tenant_id: str, namespace: str, flow_id: str, task_id: str | None = None
) -> list[str]:
    conditions = [
        metrics.c.tenant_id == tenant_id,
        metrics.c.namespace == namespace,
        metrics.c.flow_id == flow_id,
    ]
    if task_id is not None:
        conditions.append(metrics.c.task_id == task_id)
    rows = conn.execute(
        select(metrics.c.name).where(*conditions).distinct().order_by(metrics.c.name)
    ).all()
    return [row[0] for row in rows]


def metric_tasks(conn: Connection, tenant_id: str, namespace: str, flow_id: str) -> list[str]:
    rows = conn.execute(
        select(metrics.c.task_id)
        .where(
            metrics.c.tenant_id == tenant_id,
            metrics.c.namespace == namespace,
            metrics.c.flow_id == flow_id,
            metrics.c.task_id.is_not(None),
        )
        .distinct()
        .order_by(metrics.c.task_id)
    ).all()
    return [row[0] for row in rows]


def delete_execution_metrics(conn: Connection, tenant_id: str, execution_id: str) -> int:
    result = conn.execute(
        delete(metrics).where(
            metrics.c.tenant_id == tenant_id, metrics.c.execution_id == execution_id
        )
    )
    return int(result.rowcount or 0)


def _values(entry: MetricEntry) -> dict[str, Any]:
    return {
        "tenant_id": entry.tenant_id,
        "namespace": entry.namespace,
        "flow_id": entry.flow_id,
        "execution_id": entry.execution_id,
        "task_id": entry.task_id,
        "task_run_id": entry.task_run_id,
        "type": entry.type,
        "name": entry.name,
        "value": entry.value,
        "tags": dict(entry.tags),
        "timestamp": entry.timestamp,
    }


def _to_entry(row: Row[Any]) -> MetricEntry:
    return MetricEntry(
        tenant_id=row.tenant_id,
        namespace=row.namespace,
        flow_id=row.flow_id,
        execution_id=row.execution_id,
        task_id=row.task_id,
        task_run_id=row.task_run_id,
        type=row.type,
        name=row.name,
        value=float(row.value),
        timestamp=row.timestamp,
        tags=dict(row.tags or {}),
    )
