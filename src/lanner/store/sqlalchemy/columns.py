"""Column types of the store: JSON documents and UTC datetimes, one code path for both dialects.

Imports SQLAlchemy and orjson only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class JsonDocument(TypeDecorator[Any]):
    """A JSON document as orjson text (``TEXT``) on both dialects: one code path, and object
    keys keep the order they were written in (Kestra users see outputs and inputs that way;
    nothing queries inside these documents, so PostgreSQL's JSONB would only reorder them).

    Any ``Mapping`` (``MappingProxyType`` included) is written as an object, tuples as arrays,
    datetimes as RFC 3339 text; reads give dicts, lists and strings back.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return orjson.dumps(value, default=_json_default).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return orjson.loads(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a JSON document")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both dialects (SQLite keeps naive UTC text).

    On SQLite the text is written and read here, in SQLAlchemy's own format
    (``YYYY-MM-DD HH:MM:SS.ffffff``) but with the C ``isoformat``/``fromisoformat`` instead
    of its Python formatting and regular expression: dates are in every hot-path row.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_date_text
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_date_value
        return super().result_processor(dialect, coltype)


def _sqlite_date_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _sqlite_date_value(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)
