"""Substring search of log messages through an index, on both backends, same results as a scan.

The search condition stays ``lower(message) LIKE '%' || lower(q) || '%'`` (what every search
answered before); an index only narrows the rows it is checked on:

- PostgreSQL: a ``pg_trgm`` GIN index on ``lower(message)`` serves that very ``LIKE``;
- SQLite: an FTS5 table with the trigram tokenizer (``logs_fts``, external content: the rows
  of ``logs``, kept in sync by triggers) gives the candidate rows holding every trigram of
  ``lower(q)``, a superset of the matches; the ``LIKE`` then keeps the matches exactly.

Queries under three characters have no trigram: they scan, as before. The index itself is built by
the migration ``0005_history``. Imports SQLAlchemy only.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, column, select, table

FTS_TABLE = "logs_fts"
# Trigrams ANDed per query: enough to be selective, few enough to stay cheap.
MAX_TRIGRAMS = 8

_fts = table(FTS_TABLE, column("rowid"), column(FTS_TABLE))


def trigrams(q: str) -> list[str]:
    """Up to :data:`MAX_TRIGRAMS` distinct trigrams of ``q`` spread over it (first and last
    included); empty when ``q`` is shorter than three characters."""
    grams = list(dict.fromkeys(q[i : i + 3] for i in range(len(q) - 2)))
    if len(grams) <= MAX_TRIGRAMS:
        return grams
    step = (len(grams) - 1) / (MAX_TRIGRAMS - 1)
    return list(dict.fromkeys(grams[round(i * step)] for i in range(MAX_TRIGRAMS)))


def candidate_condition(
    dialect: str, id_column: ColumnElement[int], lowered_q: str
) -> ColumnElement[bool] | None:
    """On SQLite, "the row is an FTS candidate for ``lowered_q``"; None when the backend's
    index needs no extra condition (PostgreSQL) or the query has no trigram."""
    if dialect != "sqlite":
        return None
    grams = trigrams(lowered_q)
    if not grams:
        return None
    match = " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)
    candidates = select(_fts.c.rowid).where(_fts.c[FTS_TABLE].op("MATCH")(match))
    return id_column.in_(candidates)
