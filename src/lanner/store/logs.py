"""Log queries: sync functions of a SQLAlchemy ``Connection``, run on the writer or a reader.

Each execution numbers its lines (``seq``) from ``log_sequences``: one upsert per execution and
batch reserves a block of numbers under the row's lock, so a higher number never commits
before a lower one on PostgreSQL either; the lines themselves go in one ``executemany``.
Imports SQLAlchemy, the schema and the domain; never the engine or the API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from lanner.domain.logs import LogEntry, LogLevel
from lanner.store.bulk import BulkStatement
from lanner.store.schema import log_sequences, logs

_INSERT_LOG = BulkStatement(insert(logs))


def _reserve_sequence(make_insert: Callable[[Any], Any]) -> Insert:
    stmt = make_insert(log_sequences)
    reserve: Insert = stmt.on_conflict_do_update(
        index_elements=[log_sequences.c.execution_id],
        set_={"last_seq": log_sequences.c.last_seq + stmt.excluded.last_seq},
    ).returning(log_sequences.c.last_seq)
    return reserve


# Adds ``last_seq`` (the number of lines) to the counter and returns the new last number.
_RESERVE_SEQUENCE = {
    "sqlite": _reserve_sequence(sqlite.insert),
    "postgresql": _reserve_sequence(postgresql.insert),
}


def add_logs(conn: Connection, entries: Sequence[LogEntry]) -> None:
    """Insert ``entries``, numbering each execution's lines in the order given."""
    counts: dict[str, tuple[str, int]] = {}
    for entry in entries:
        if entry.execution_id is not None:
            tenant_id, count = counts.get(entry.execution_id, (entry.tenant_id, 0))
            counts[entry.execution_id] = (tenant_id, count + 1)
    reserve = _RESERVE_SEQUENCE[conn.dialect.name]
    next_seq: dict[str, int] = {}
    for execution_id, (tenant_id, count) in counts.items():
        last: int = conn.execute(
            reserve, {"tenant_id": tenant_id, "execution_id": execution_id, "last_seq": count}
        ).scalar_one()
        next_seq[execution_id] = last - count + 1
    rows: list[dict[str, Any]] = []
    for entry in entries:
        seq = None
        if entry.execution_id is not None:
            seq = next_seq[entry.execution_id]
            next_seq[entry.execution_id] = seq + 1
        rows.append(_log_values(entry, seq))
    _INSERT_LOG.execute(conn, rows)


def list_logs(
    conn: Connection,
    tenant_id: str,
    execution_id: str,
    *,
    min_level: LogLevel | None,
    task_run_id: str | None,
    task_id: str | None,
    attempt: int | None,
    after_seq: int | None,
) -> list[LogEntry]:
    """The execution's lines matching every given filter, by ``seq``."""
    conditions: list[ColumnElement[bool]] = [
        logs.c.tenant_id == tenant_id,
        logs.c.execution_id == execution_id,
    ]
    if min_level is not None and min_level is not LogLevel.TRACE:
        conditions.append(logs.c.level.in_([level.value for level in LogLevel.at_least(min_level)]))
    if task_run_id is not None:
        conditions.append(logs.c.task_run_id == task_run_id)
    if task_id is not None:
        conditions.append(logs.c.task_id == task_id)
    if attempt is not None:
        conditions.append(logs.c.attempt_number == attempt)
    if after_seq is not None:
        conditions.append(logs.c.seq > after_seq)
    rows = conn.execute(select(logs).where(*conditions).order_by(logs.c.seq))
    return [_to_entry(row) for row in rows]


def _log_values(entry: LogEntry, seq: int | None) -> dict[str, Any]:
    return {
        "tenant_id": entry.tenant_id,
        "namespace": entry.namespace,
        "flow_id": entry.flow_id,
        "execution_id": entry.execution_id,
        "seq": seq,
        "task_run_id": entry.task_run_id,
        "task_id": entry.task_id,
        "trigger_id": entry.trigger_id,
        "attempt_number": entry.attempt_number,
        "level": entry.level.value,
        "thread": entry.thread,
        "message": entry.message,
        "timestamp": entry.timestamp,
    }


def _to_entry(row: Row[Any]) -> LogEntry:
    return LogEntry(
        tenant_id=row.tenant_id,
        namespace=row.namespace,
        level=LogLevel(row.level),
        message=row.message,
        timestamp=row.timestamp,
        flow_id=row.flow_id,
        execution_id=row.execution_id,
        task_run_id=row.task_run_id,
        task_id=row.task_id,
        attempt_number=row.attempt_number,
        trigger_id=row.trigger_id,
        thread=row.thread,
        seq=row.seq,
    )
