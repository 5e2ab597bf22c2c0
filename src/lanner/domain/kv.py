"""The namespace key-value store's values: types, keys and the text forms Kestra accepts.

A value is kept in its JSON form with a :class:`KVType` beside it: numbers, booleans, strings,
maps and lists as themselves; DATETIME, DATE and DURATION as ISO-8601 text (Java's forms).
:func:`parse_literal` reads the body of ``PUT …/kv/{key}``, which Kestra parses as Amazon Ion
text (a superset of JSON): JSON literals, unquoted ISO dates and date-times, and quoted ISO
durations read back as DURATION. Pure: imports only the standard library and the domain.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from lanner.domain.times import format_duration, format_instant, parse_duration

KEY_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)
_SYMBOL_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


class KVType(StrEnum):
    """Kestra's ``KVType``."""

    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    DATE = "DATE"
    DURATION = "DURATION"
    JSON = "JSON"


@dataclass(frozen=True, slots=True)
class KVValue:
    """A typed value in its JSON form."""

    type: KVType
    value: Any


@dataclass(frozen=True, slots=True)
class KVEntry:
    """One stored entry; ``expires`` None means it never expires."""

    tenant_id: str
    namespace: str
    key: str
    type: KVType
    value: Any
    created: datetime
    updated: datetime
    revision: int = 1
    expires: datetime | None = None
    description: str | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now


class InvalidKVValue(ValueError):
    """A body, key or value the KV store cannot take; the message says why."""


def check_key(key: str) -> str:
    """``key`` when it matches Kestra's ``[a-zA-Z0-9][a-zA-Z0-9._-]*``."""
    if not KEY_PATTERN.match(key):
        raise InvalidKVValue(
            f"Key must start with an alphanumeric character and contain only alphanumeric "
            f"characters, '.', '_' or '-', got '{key}'"
        )
    return key


def infer_value(value: Any) -> KVValue:
    """The type of a value as Kestra derives it from its runtime type (no text sniffing)."""
    if value is None:
        raise InvalidKVValue("a KV value cannot be null")
    if isinstance(value, bool):
        return KVValue(KVType.BOOLEAN, value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidKVValue(f"a KV number must be finite, got {value}")
        return KVValue(KVType.NUMBER, value)
    if isinstance(value, datetime):
        return KVValue(KVType.DATETIME, format_instant(value))
    if isinstance(value, date):
        return KVValue(KVType.DATE, value.isoformat())
    if isinstance(value, timedelta):
        return KVValue(KVType.DURATION, format_duration(value))
    if isinstance(value, str):
        return KVValue(KVType.STRING, value)
    if isinstance(value, Mapping | list | tuple):
        return KVValue(KVType.JSON, _plain(value))
    raise InvalidKVValue(f"a KV value cannot be a {type(value).__name__}")


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def convert_value(value: Any, kind: KVType) -> KVValue:
    """``value`` read as ``kind`` (the ``kvType`` of ``kv.Set``); text is parsed."""
    try:
        if kind is KVType.STRING:
            # compact and unescaped, as Jackson writes it
            text = value if isinstance(value, str) else _compact_json(_plain(value))
            return KVValue(kind, text)
        if kind is KVType.NUMBER:
            number = value if isinstance(value, int | float) else float(str(value))
            if isinstance(number, bool):
                raise ValueError("a boolean is not a number")
            if isinstance(number, float) and number.is_integer() and "." not in str(value):
                number = int(number)
            return KVValue(kind, number)
        if kind is KVType.BOOLEAN:
            if isinstance(value, bool):
                return KVValue(kind, value)
            return KVValue(kind, str(value).strip().lower() == "true")
        if kind is KVType.DATETIME:
            parsed = value if isinstance(value, datetime) else _datetime(str(value))
            return KVValue(kind, format_instant(parsed))
        if kind is KVType.DATE:
            day = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
            return KVValue(kind, day.isoformat())
        if kind is KVType.DURATION:
            duration = value if isinstance(value, timedelta) else parse_duration(str(value))
            if duration is None:
                raise ValueError("not an ISO-8601 duration")
            return KVValue(kind, format_duration(duration))
        parsed_json = json.loads(value) if isinstance(value, str) else _plain(value)
        return KVValue(KVType.JSON, parsed_json)
    except (ValueError, TypeError) as error:
        raise InvalidKVValue(f"cannot read {value!r} as {kind.value}: {error}") from None


def parse_literal(text: str) -> KVValue:
    """The value of a ``PUT …/kv/{key}`` body (Ion-ish text, see the module doc)."""
    body = text.strip()
    if not body:
        raise InvalidKVValue(f"Invalid JSON value for: {text}")
    if _DATE_RE.match(body):
        return convert_value(body, KVType.DATE)
    if _DATETIME_RE.match(body):
        return convert_value(body, KVType.DATETIME)
    try:
        value = json.loads(body)
    except ValueError:
        if _SYMBOL_RE.match(body) and body != "null":
            # An Ion symbol (an unquoted word): Kestra stores its text.
            return KVValue(KVType.STRING, body)
        raise InvalidKVValue(f"Invalid JSON value for: {text}") from None
    if value is None:
        raise InvalidKVValue(f"Invalid JSON value for: {text} (null cannot be stored)")
    if isinstance(value, str) and parse_duration(value) is not None:
        return convert_value(value, KVType.DURATION)
    return infer_value(value)


def _datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    return value
