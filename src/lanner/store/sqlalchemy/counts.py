"""Search totals that never scan every match: exact up to a bound, an estimate beyond it.

:func:`bounded_total` counts at most ``bound + 1`` matching rows (``SELECT count(*) FROM
(SELECT 1 ... LIMIT bound + 1)``, served by the search's index), so a page costs the same
whatever the history holds. Up to ``bound`` matches the total is exact; beyond it the total is
an estimate, never below ``bound + 1`` nor below the rows the pages up to this one show:
PostgreSQL's planner estimate of the matching rows (``EXPLAIN (FORMAT JSON)``), and on SQLite
``bound + 1``. Imports SQLAlchemy only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    and_,
    func,
    literal_column,
    or_,
    select,
)

DEFAULT_COUNT_BOUND = 10_000
"""Matches counted exactly per search; beyond, the total is an estimate (Settings)."""


def capped_count(
    conn: Connection, table: FromClause, conditions: list[ColumnElement[bool]], *, bound: int
) -> int:
    """How many rows match, counting at most ``bound + 1`` of them (through the index)."""
    capped: Select[Any] = (
        select(literal_column("1")).select_from(table).where(*conditions).limit(bound + 1)
    )
    counted: int = conn.execute(select(func.count()).select_from(capped.subquery())).scalar_one()
    return counted


def bounded_total(
    conn: Connection,
    table: FromClause,
    conditions: list[ColumnElement[bool]],
    *,
    bound: int,
    seen: int,
    counted: int | None = None,
) -> int:
    """The number of rows of ``table`` matching ``conditions``, exact when at most ``bound``;
    else an estimate of at least ``max(bound + 1, seen)`` (``seen``: rows up to the end of
    the page read, plus one when that page was full, so a client can always ask for the next).
    ``counted``: the :func:`capped_count` already made, if any."""
    if counted is None:
        counted = capped_count(conn, table, conditions, bound=bound)
    if counted <= bound:
        return counted
    estimate = (
        _planner_estimate(conn, table, conditions) if conn.dialect.name == "postgresql" else 0
    )
    return max(bound + 1, seen, estimate)


SMALL_MATCHES = 1000
"""Up to this many matches a search reads them all through its filter's index and sorts them;
beyond, SQLite walks the date index newest first and stops at the page (:func:`walks`)."""


def walks(conn: Connection, counted: int) -> bool:
    """Whether a page of a search with ``counted`` matches walks its sort's date index instead
    of sorting every match: on SQLite with many matches (PostgreSQL's planner knows the row
    counts and chooses itself)."""
    return conn.dialect.name == "sqlite" and counted > SMALL_MATCHES


def _planner_estimate(
    conn: Connection, table: FromClause, conditions: list[ColumnElement[bool]]
) -> int:
    statement: Select[Any] = select(literal_column("1")).select_from(table).where(*conditions)
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    plan: Any = conn.exec_driver_sql(
        "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params
    ).scalar_one()
    try:
        return int(plan[0]["Plan"]["Plan Rows"])
    except (LookupError, TypeError, ValueError):
        return 0


def namespace_and_children(
    column: ColumnElement[str], namespace: str, *, indexed: bool = True
) -> ColumnElement[bool]:
    """``column`` is ``namespace`` or one of its children (``namespace.``…), as ONE index
    range: identifiers compare byte-wise on both backends (schema ``Identifier``), the names
    starting with ``namespace.`` are those from ``namespace.`` up to ``namespace/``, and the
    range from ``namespace`` to ``namespace/`` holds them and ``namespace`` itself (with
    ``namespace-x`` and the like, which the last term leaves out). ``indexed=False`` compares
    ``column || ''`` instead, the same values that no index serves: the page then walks the
    date index (:func:`walks`)."""
    if not indexed:
        column = column.concat("")
    return and_(
        column >= namespace,
        column < namespace + "/",
        or_(column == namespace, column >= namespace + "."),
    )
