"""Statements for the hot path: compiled once per dialect, run many rows at a time on the driver.

SQLAlchemy Core builds the SQL (one construct for both dialects) and its column types convert
the values (the same bind processors a normal ``execute`` uses: JSON documents, UTC dates),
but the rows skip Core's per-row parameter machinery and its per-call execution context, which
cost more than the database on SQLite: they go straight to the driver's cursor
(:func:`driver_execute`), inside the connection's current transaction; driver errors come back
as SQLAlchemy's (``IntegrityError``, ``OperationalError``...), a lost connection invalidated,
as ``Connection.execute`` would. Imports SQLAlchemy only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any]
_UNSET = object()


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the statement's parameters, in the driver's order
    values_of: Callable[[Mapping[str, Any]], tuple[Any, ...]]  # a row's values, in that order
    conversions: tuple[tuple[int, Processor], ...]  # (index, the column type's converter)
    constants: Mapping[str, Any]  # values the statement carries itself (``version + 1``)
    is_positional: bool
    lookups: tuple[str, ...] = ()  # the row key of each parameter, in the driver's order


class BulkStatement:
    """An INSERT/UPDATE/DELETE run for many rows (dicts with the same keys).

    As with ``Connection.execute``, the first row's keys name the columns an INSERT writes
    (and an UPDATE sets, besides its explicit values); the SQL is compiled once per dialect
    and set of keys.
    """

    def __init__(self, statement: UpdateBase) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row, in one driver ``executemany``."""
        if not rows:
            return
        dialect = conn.dialect
        cache_key = (dialect.name, tuple(rows[0]))
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            compiled = self._compiled[cache_key] = self._compile(dialect, cache_key[1])
        values_of, conversions, constants = (
            compiled.values_of,
            compiled.conversions,
            compiled.constants,
        )
        batch: list[Any] = []
        for row in rows:
            values = list(values_of({**constants, **row} if constants else row))
            for index, convert in conversions:
                values[index] = convert(values[index])
            batch.append(
                tuple(values)
                if compiled.is_positional
                else dict(zip(compiled.names, values, strict=True))
            )
        driver_execute(conn, compiled.sql, batch)

    def execute_tuples(
        self, conn: Connection, keys: tuple[str, ...], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Like :meth:`execute`, the rows given as value tuples in the order of ``keys``: no
        dict per row. A value repeated from the row before (the same object: a chunk of log
        lines shares its time stamp) is converted once."""
        if not rows:
            return
        dialect = conn.dialect
        cache_key = (dialect.name, keys)
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            compiled = self._compiled[cache_key] = self._compile(dialect, keys)
        if compiled.constants or not compiled.is_positional:
            self.execute(conn, [dict(zip(keys, row, strict=True)) for row in rows])
            return
        position = {key: index for index, key in enumerate(keys)}
        order = [position[key] for key in compiled.lookups]
        is_identity = order == list(range(len(keys)))
        conversions = compiled.conversions
        last: list[Any] = [_UNSET] * len(conversions)
        converted: list[Any] = [None] * len(conversions)
        batch: list[Any] = []
        for row in rows:
            values = list(row) if is_identity else [row[i] for i in order]
            for slot, (index, convert) in enumerate(conversions):
                value = values[index]
                if value is not last[slot]:
                    last[slot] = value
                    converted[slot] = convert(value)
                values[index] = converted[slot]
            batch.append(tuple(values))
        driver_execute(conn, compiled.sql, batch)

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect, column_keys=list(keys))
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(by_name)
        defaults = compiled.construct_params(_check=False)
        lookups: list[str] = []
        conversions: list[tuple[int, Processor]] = []
        constants: dict[str, Any] = {}
        for index, name in enumerate(names):
            bind = by_name[name]
            if bind.key in keys:
                lookups.append(bind.key)
            elif name in defaults:
                lookups.append(name)
                constants[name] = defaults[name]
            else:
                raise ValueError(f"statement parameter {name!r} has no value")
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                conversions.append((index, convert))
        return _Compiled(
            sql=str(compiled),
            names=names,
            values_of=_getter(lookups),
            conversions=tuple(conversions),
            constants=constants,
            is_positional=compiled.positional,
            lookups=tuple(lookups),
        )


@contextmanager
def driver_cursor(conn: Connection, sql: str, params: Any) -> Iterator[Any]:
    """The driver's own cursor on ``conn`` (closed after); its errors come out as SQLAlchemy's
    (``DBAPIError``, the connection invalidated on a disconnect), as ``conn.execute`` raises
    them, so the store's error handling sees no difference."""
    fairy = conn.connection
    cursor = fairy.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    except conn.dialect.loaded_dbapi.Error as exc:
        dialect = conn.dialect
        is_disconnect = dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
        error = DBAPIError.instance(
            sql,
            params,
            exc,
            dialect.loaded_dbapi.Error,
            connection_invalidated=is_disconnect,
            dialect=dialect,
        )
        if is_disconnect:
            conn.invalidate(exc)
        raise error from exc
    finally:
        cursor.close()


def driver_execute(conn: Connection, sql: str, batch: Sequence[Any]) -> Any:
    """Run ``sql`` once per parameter set of ``batch`` on the driver's cursor; the cursor
    (closed) is returned, for ``rowcount``. Several sets go through one ``executemany``."""
    with driver_cursor(conn, sql, batch) as cursor:
        if len(batch) == 1:
            cursor.execute(sql, batch[0])
        else:
            cursor.executemany(sql, batch)
    return cursor


def _getter(keys: list[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(keys) == 1:
        key = keys[0]
        return lambda row: (row[key],)
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]] = itemgetter(*keys)
    return getter
