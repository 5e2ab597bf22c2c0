"""Log queries: sync functions of a SQLAlchemy ``Connection``, run on the writer or a reader.

Each execution numbers its lines (``seq``) from ``log_sequences``: one upsert per execution and
batch reserves a block of numbers under the row's lock, so a higher number never commits
before a lower one on PostgreSQL either; the lines themselves go in one ``executemany``.
Imports SQLAlchemy, the schema and the domain; never the engine or the API.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert

from lanner.domain.logs import LogEntry, LogLevel
from lanner.errors import IllegalArgumentError
from lanner.store.protocols.logs import LogQuery
from lanner.store.protocols.pages import Page
from lanner.store.sqlalchemy import textsearch
from lanner.store.sqlalchemy.bulk import driver_cursor, driver_execute
from lanner.store.sqlalchemy.counts import (
    DEFAULT_COUNT_BOUND,
    bounded_total,
    capped_count,
    namespace_and_children,
    walks,
)
from lanner.store.sqlalchemy.schema import log_sequences, logs

MAX_PAGE_SIZE = 10_000
TEXT_COUNT_BOUND = 1000
"""Text searches (``q``) count exactly up to this many matches at most."""
PURGE_CHUNK_ROWS = 10_000
"""Rows deleted per purge transaction: the single SQLite writer is never held for long."""

_SORT_COLUMNS = {
    "timestamp": logs.c.timestamp,
    "level": logs.c.level,
    "namespace": logs.c.namespace,
    "flowId": logs.c.flow_id,
    "executionId": logs.c.execution_id,
    "taskId": logs.c.task_id,
}

_EXECUTION_ID = attrgetter("execution_id")
_TENANT_ID = attrgetter("tenant_id")
_LOG_KEYS = (
    "tenant_id", "namespace", "flow_id", "execution_id", "seq", "task_run_id", "task_id",
    "trigger_id", "attempt_number", "level", "thread", "message", "timestamp",
)  # fmt: skip


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


SQLITE_CHUNK_ROWS = 500
"""Lines per SQLite INSERT (multi-row ``VALUES``, 13 parameters a line: under the 32,766
parameters a statement may have since SQLite 3.32; 76 lines before, under 999)."""


@dataclass(frozen=True, slots=True)
class _LineInsert:
    """How one dialect's driver takes the lines, built once: the SQL and the timestamp
    column's conversion (the rest of a row passes to the driver as is).

    PostgreSQL: one ``COPY ... FROM STDIN``. SQLite: one INSERT of ``chunk_rows`` lines per
    statement (``chunk_sql``), the remainder line by line (``sql``, one ``executemany``): a
    statement of many lines costs a third less than as many one-line statements, and sqlite3
    releases the GIL for each statement's whole database work instead of for each line's.
    """

    sql: str
    convert_timestamp: Callable[[Any], Any] | None
    is_copy: bool
    chunk_sql: str = ""
    chunk_rows: int = 0


_LINE_INSERTS: dict[str, _LineInsert] = {}


def _line_insert(dialect: Dialect) -> _LineInsert:
    found = _LINE_INSERTS.get(dialect.name)
    if found is not None:
        return found
    converters = {
        key: logs.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in _LOG_KEYS
    }
    convert = converters.pop("timestamp")
    if any(converters.values()):  # the rows pass every other value to the driver unconverted
        raise AssertionError(f"log columns with a conversion: {converters}")
    if dialect.name == "postgresql":
        columns = ", ".join(_LOG_KEYS)
        found = _LineInsert(f"COPY logs ({columns}) FROM STDIN", convert, is_copy=True)
    else:
        compiled = insert(logs).compile(dialect=dialect, column_keys=list(_LOG_KEYS))
        order = tuple(compiled.binds[name].key for name in compiled.positiontup or ())
        sql = str(compiled)
        head, _, values = sql.partition(" VALUES ")
        if order != _LOG_KEYS or values != "(" + ", ".join("?" * len(_LOG_KEYS)) + ")":
            raise AssertionError(f"unexpected parameters in {sql}")
        rows = SQLITE_CHUNK_ROWS if sqlite3.sqlite_version_info >= (3, 32) else 999 // len(order)
        chunk_sql = f"{head} VALUES {', '.join([values] * rows)}"
        found = _LineInsert(sql, convert, is_copy=False, chunk_sql=chunk_sql, chunk_rows=rows)
    _LINE_INSERTS[dialect.name] = found
    return found


def add_logs(conn: Connection, entries: Sequence[LogEntry]) -> None:
    """Insert ``entries``, numbering each execution's lines in the order given.

    The hottest write there is (every line a task logs): the rows are value tuples handed to
    the driver (SQLite: INSERTs of :data:`SQLITE_CHUNK_ROWS` lines; PostgreSQL: ``COPY``), a
    time stamp shared by consecutive lines converted once, the level written as its text.
    """
    executions = list(map(_EXECUTION_ID, entries))
    counts = Counter(executions)
    counts.pop(None, None)
    tenants = dict(zip(executions, map(_TENANT_ID, entries), strict=True))
    reserve = _RESERVE_SEQUENCE[conn.dialect.name]
    next_seq: dict[str, int] = {}
    # In one order (by execution id) in every transaction: two writers reserving for the same
    # executions never wait on each other's rows crosswise (no deadlock between processes).
    for execution_id, count in sorted(counts.items()):
        parameters = {
            "tenant_id": tenants[execution_id],
            "execution_id": execution_id,
            "last_seq": count,
        }
        last: int = conn.execute(reserve, parameters).scalar_one()
        next_seq[execution_id] = last - count + 1
    statement = _line_insert(conn.dialect)
    rows = _rows(entries, next_seq, statement.convert_timestamp)
    if statement.is_copy:
        _copy(conn, statement.sql, rows)
        return
    last_id = textsearch.last_line_id(conn)
    size = statement.chunk_rows
    whole = len(rows) - len(rows) % size
    if whole:
        chunks = [tuple(chain.from_iterable(rows[i : i + size])) for i in range(0, whole, size)]
        driver_execute(conn, statement.chunk_sql, chunks)
    if whole < len(rows):
        driver_execute(conn, statement.sql, rows[whole:])
    textsearch.index_lines_after(conn, last_id)


def _rows(
    entries: Sequence[LogEntry],
    next_seq: dict[str, int],
    convert_timestamp: Callable[[Any], Any] | None,
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    level: LogLevel | None = None
    level_text = ""
    timestamp: datetime | None = None
    timestamp_value: Any = None
    for entry in entries:
        seq = None
        run_of = entry.execution_id
        if run_of is not None:
            seq = next_seq[run_of]
            next_seq[run_of] = seq + 1
        if entry.level is not level:
            level = entry.level
            level_text = level.value
        if entry.timestamp is not timestamp:
            timestamp = entry.timestamp
            timestamp_value = (
                timestamp if convert_timestamp is None else convert_timestamp(timestamp)
            )
        append(
            (
                entry.tenant_id, entry.namespace, entry.flow_id, run_of, seq,
                entry.task_run_id, entry.task_id, entry.trigger_id, entry.attempt_number,
                level_text, entry.thread, entry.message, timestamp_value,
            )
        )  # fmt: skip
    return rows


def _copy(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """``COPY ... FROM STDIN`` of ``rows`` in the connection's transaction (PostgreSQL);
    driver errors come back as SQLAlchemy's (:func:`~lanner.store.sqlalchemy.bulk.driver_cursor`)."""
    with driver_cursor(conn, sql, rows[:1]) as cursor, cursor.copy(sql) as copy:
        write_row = copy.write_row
        for row in rows:
            write_row(row)


def _execution_conditions(
    tenant_id: str,
    execution_id: str,
    min_level: LogLevel | None,
    task_run_id: str | None,
    task_id: str | None,
    attempt: int | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        logs.c.tenant_id == tenant_id,
        logs.c.execution_id == execution_id,
    ]
    conditions.extend(_level_condition(min_level))
    if task_run_id is not None:
        conditions.append(logs.c.task_run_id == task_run_id)
    if task_id is not None:
        conditions.append(logs.c.task_id == task_id)
    if attempt is not None:
        conditions.append(logs.c.attempt_number == attempt)
    return conditions


def _level_condition(min_level: LogLevel | None) -> list[ColumnElement[bool]]:
    if min_level is None or min_level is LogLevel.TRACE:
        return []
    return [logs.c.level.in_([level.value for level in LogLevel.at_least(min_level)])]


def list_logs(
    conn: Connection,
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
    """The execution's lines matching every given filter, by ``seq``."""
    conditions = _execution_conditions(
        tenant_id, execution_id, min_level, task_run_id, task_id, attempt
    )
    if after_seq is not None:
        conditions.append(logs.c.seq > after_seq)
    query = select(logs).where(*conditions).order_by(logs.c.seq)
    if limit is not None:
        query = query.limit(limit)
    return [_to_entry(row) for row in conn.execute(query)]


def search_logs(
    conn: Connection, query: LogQuery, *, count_bound: int = DEFAULT_COUNT_BOUND
) -> Page[LogEntry]:
    """Filter, sort and page in SQL; the total is exact up to ``count_bound`` matches, an
    estimate beyond (:func:`~lanner.store.sqlalchemy.counts.bounded_total`)."""
    if query.page < 1 or not 1 <= query.size <= MAX_PAGE_SIZE:
        raise IllegalArgumentError(
            f"page must be ≥ 1 and size between 1 and {MAX_PAGE_SIZE} "
            f"(got page={query.page}, size={query.size})"
        )
    order = []
    for field, is_descending in query.sort or (("timestamp", True),):
        column = _SORT_COLUMNS.get(field)
        if column is None:
            raise IllegalArgumentError(
                f"cannot sort logs by {field!r}; use one of {', '.join(_SORT_COLUMNS)}"
            )
        order.append(column.desc() if is_descending else column.asc())
    order.append(logs.c.id.desc())  # a total order: pages neither repeat nor skip rows
    candidates = _candidates(query, conn)
    conditions = _search_conditions(query, candidates)
    offset = (query.page - 1) * query.size
    # Text searches count exactly up to a smaller bound: a common term's count checks lines.
    bound = min(count_bound, TEXT_COUNT_BOUND) if query.q else count_bound
    counted = capped_count(conn, logs, conditions, bound=bound)
    by_time = (query.sort or (("timestamp", True),))[0][0] == "timestamp"
    if candidates is not None:
        # Few FTS candidates: read them by id (no index on the filters), then sort them.
        conditions = _search_conditions(query, candidates, indexed=False)
    elif query.namespace and by_time and walks(conn, counted):
        conditions = _search_conditions(query, None, indexed=False)
    page = select(logs).where(*conditions).order_by(*order).limit(query.size)
    results = [_to_entry(row) for row in conn.execute(page.offset(offset))]
    seen = offset + len(results) + (1 if len(results) == query.size else 0)
    total = bounded_total(conn, logs, conditions, bound=bound, seen=seen, counted=counted)
    return Page(results=results, total=total)


def _namespace_condition(namespace: str) -> ColumnElement[bool]:
    return namespace_and_children(logs.c.namespace, namespace)


def _candidates(query: LogQuery, conn: Connection) -> ColumnElement[bool] | None:
    if not query.q:
        return None
    return textsearch.candidate_condition(conn, logs.c.id, query.q.lower())


def _search_conditions(
    query: LogQuery, candidates: ColumnElement[bool] | None, *, indexed: bool = True
) -> list[ColumnElement[bool]]:
    # Not indexed with candidates: no index serves the filters, so the rows are read by id.
    by_id = not indexed and candidates is not None
    tenant = logs.c.tenant_id.concat("") if by_id else logs.c.tenant_id
    conditions: list[ColumnElement[bool]] = [tenant == query.tenant_id]
    if query.namespace:
        conditions.append(
            namespace_and_children(logs.c.namespace, query.namespace, indexed=indexed)
        )
    if query.flow_id is not None:
        conditions.append(logs.c.flow_id == query.flow_id)
    if query.execution_id is not None:
        conditions.append(logs.c.execution_id == query.execution_id)
    if query.trigger_id is not None:
        conditions.append(logs.c.trigger_id == query.trigger_id)
    conditions.extend(_level_condition(query.min_level))
    if query.start_date is not None:
        conditions.append(logs.c.timestamp >= query.start_date)
    if query.end_date is not None:
        conditions.append(logs.c.timestamp < query.end_date)
    if query.q:
        lowered = query.q.lower()
        conditions.append(func.lower(logs.c.message).contains(lowered, autoescape=True))
    if candidates is not None:
        conditions.append(candidates)
    return conditions


def delete_logs(
    conn: Connection,
    tenant_id: str,
    execution_id: str,
    *,
    min_level: LogLevel | None = None,
    task_run_id: str | None = None,
    task_id: str | None = None,
    attempt: int | None = None,
) -> int:
    """Delete the execution's lines matching the filters; how many."""
    conditions = _execution_conditions(
        tenant_id, execution_id, min_level, task_run_id, task_id, attempt
    )
    return textsearch.delete_lines(conn, conditions)


def delete_flow_logs(
    conn: Connection, tenant_id: str, namespace: str, flow_id: str, *, trigger_id: str | None = None
) -> int:
    conditions = [
        logs.c.tenant_id == tenant_id,
        logs.c.namespace == namespace,
        logs.c.flow_id == flow_id,
    ]
    if trigger_id is not None:
        conditions.append(logs.c.trigger_id == trigger_id)
    return textsearch.delete_lines(conn, conditions)


def purge_chunk(
    conn: Connection,
    before: datetime,
    tenant_id: str | None,
    namespace: str | None,
    flow_id: str | None,
    levels: tuple[LogLevel, ...],
    after: datetime | None = None,
    execution_id: str | None = None,
    of_executions: bool | None = None,
) -> int:
    """Delete up to :data:`PURGE_CHUNK_ROWS` lines older than ``before`` (and not older than
    ``after``; of one execution; only executions' lines or only the others); how many."""
    conditions: list[ColumnElement[bool]] = [logs.c.timestamp < before]
    if after is not None:
        conditions.append(logs.c.timestamp >= after)
    if execution_id is not None:
        conditions.append(logs.c.execution_id == execution_id)
    if of_executions is True:
        conditions.append(logs.c.execution_id.is_not(None))
    elif of_executions is False:
        conditions.append(logs.c.execution_id.is_(None))
    if tenant_id is not None:
        conditions.append(logs.c.tenant_id == tenant_id)
    if namespace:
        conditions.append(_namespace_condition(namespace))
    if flow_id is not None:
        conditions.append(logs.c.flow_id == flow_id)
    if levels:
        conditions.append(logs.c.level.in_([level.value for level in levels]))
    ids = list(conn.execute(select(logs.c.id).where(*conditions).limit(PURGE_CHUNK_ROWS)).scalars())
    if not ids:
        return 0
    return textsearch.delete_lines(conn, [logs.c.id.in_(ids)])


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
