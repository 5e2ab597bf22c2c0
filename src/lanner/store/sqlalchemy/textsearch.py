"""Substring search of log messages through an index, on both backends, same results as a scan.

The search condition stays ``lower(message) LIKE '%' || lower(q) || '%'`` (what every search
answered before); an index only narrows the rows it is checked on:

- PostgreSQL: a ``pg_trgm`` GIN index on ``lower(message)`` serves that very ``LIKE``;
- SQLite: an FTS5 table with the trigram tokenizer (``logs_fts``, external content: the rows
  of ``logs``) gives the candidate rows holding every trigram of ``lower(q)``, a superset of
  the matches; the ``LIKE`` then keeps the matches exactly. The store keeps it in sync in bulk,
  one ``INSERT ... SELECT`` per written batch (:func:`index_lines_after`) and per deleting
  statement (:func:`delete_lines`): row triggers cost seven times more. A row deleted some
  other way leaves a stale entry, which only adds a candidate the ``LIKE`` drops.

Queries under three characters have no trigram: they scan, as before. The index itself is built by
the migration ``0005_history``. Imports SQLAlchemy only.
"""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Connection,
    column,
    delete,
    func,
    insert,
    literal,
    select,
    table,
)

from lanner.store.sqlalchemy.schema import logs

FTS_TABLE = "logs_fts"
# Trigrams ANDed per query: enough to be selective, few enough to stay cheap.
MAX_TRIGRAMS = 8

_fts = table(FTS_TABLE, column("rowid"), column(FTS_TABLE), column("message"))


def last_line_id(conn: Connection) -> int | None:
    """SQLite: the highest ``logs.id`` now (call before inserting lines); else None."""
    if conn.dialect.name != "sqlite":
        return None
    last: int | None = conn.execute(select(func.max(logs.c.id))).scalar()
    return last or 0


def index_lines_after(conn: Connection, last_id: int | None) -> None:
    """Index the lines inserted since :func:`last_line_id` returned ``last_id`` (SQLite)."""
    if last_id is None:
        return
    lines = select(logs.c.id, logs.c.message).where(logs.c.id > last_id)
    conn.execute(insert(_fts).from_select(["rowid", "message"], lines))


def delete_lines(conn: Connection, conditions: list[ColumnElement[bool]]) -> int:
    """Delete the lines matching ``conditions``, out of the SQLite index first; how many."""
    if conn.dialect.name == "sqlite":
        old = select(literal("delete"), logs.c.id, logs.c.message).where(*conditions)
        conn.execute(insert(_fts).from_select([FTS_TABLE, "rowid", "message"], old))
    return conn.execute(delete(logs).where(*conditions)).rowcount


def trigrams(q: str) -> list[str]:
    """Up to :data:`MAX_TRIGRAMS` distinct trigrams of ``q`` spread over it (first and last
    included); empty when ``q`` is shorter than three characters."""
    grams = list(dict.fromkeys(q[i : i + 3] for i in range(len(q) - 2)))
    if len(grams) <= MAX_TRIGRAMS:
        return grams
    step = (len(grams) - 1) / (MAX_TRIGRAMS - 1)
    return list(dict.fromkeys(grams[round(i * step)] for i in range(MAX_TRIGRAMS)))


MAX_CANDIDATES = 2000
"""Beyond this many FTS candidates a term is common: walking the newest lines finds a page
sooner than sorting every candidate, so the search does that instead."""


def candidate_condition(
    conn: Connection, id_column: ColumnElement[int], lowered_q: str
) -> ColumnElement[bool] | None:
    """On SQLite, "the row is one of the (at most :data:`MAX_CANDIDATES`) FTS candidates for
    ``lowered_q``", the rows then read by id; None when the backend's index needs no extra
    condition (PostgreSQL), the query has no trigram, or the term is common (then the page
    walks the time index, checking each line, and stops once full)."""
    if conn.dialect.name != "sqlite":
        return None
    grams = trigrams(lowered_q)
    if not grams:
        return None
    match = " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)
    candidates = (
        select(_fts.c.rowid).where(_fts.c[FTS_TABLE].op("MATCH")(match)).limit(MAX_CANDIDATES + 1)
    )
    ids = list(conn.execute(candidates).scalars())
    if len(ids) > MAX_CANDIDATES:
        return None
    return id_column.in_(ids)
