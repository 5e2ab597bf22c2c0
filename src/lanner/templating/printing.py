"""How values turn into text, the way Kestra's Pebble prints them.

Two rules coexist in Kestra, and both are reproduced here:

- ``{{ expr }}`` output goes through Kestra's ``JsonWriter``: maps and lists print as compact JSON
  (``{"a":1}``, ``["x",1]``), ``null`` prints nothing, booleans ``true``/``false``, doubles
  like Java's ``Double.toString`` (``1.0``, ``1.0E10``).
- Everything that calls Java's ``toString()`` (``~`` concatenation, ``join``, ``+`` on strings)
  prints maps as ``{a=1, b=2}`` and lists as ``[1, 2]``.

Imports only the standard library and orjson.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Set
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from lanner.domain.times import format_duration


class Entry:
    """A map entry, what Pebble's ``{% for e in map %}`` iterates (``e.key``, ``e.value``)."""

    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value

    def __repr__(self) -> str:
        return f"{java_string(self.key)}={java_string(self.value)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and (self.key, self.value) == (other.key, other.value)

    def __hash__(self) -> int:
        return hash(self.key)


def java_double(value: float) -> str:
    """Format a float as Java's ``Double.toString`` does."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text_digits = "".join(map(str, digits)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    power = len(digits) + exponent - 1
    mantissa = text_digits[0] + "." + (text_digits[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def _fraction(nanos: int) -> str:
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1000 == 0:
        return f".{nanos // 1000:06d}"
    return f".{nanos:09d}"


def java_time(value: dt.time) -> str:
    """Java ``LocalTime.toString``: seconds only when non-zero, fractions in groups of 3."""
    text = f"{value.hour:02d}:{value.minute:02d}"
    if value.second or value.microsecond:
        text += f":{value.second:02d}" + _fraction(value.microsecond * 1000)
    return text


def java_datetime(value: dt.datetime) -> str:
    """Java ``toString`` of the matching java.time type.

    Naive: ``LocalDateTime``; UTC: ``Instant`` (seconds always shown, as Kestra's
    ``execution.startDate``); fixed offset: ``OffsetDateTime``; a zone: ``ZonedDateTime``
    with ``[Region/City]``.
    """
    date_part = value.date().isoformat()
    if value.tzinfo is None:
        return f"{date_part}T{java_time(value.time())}"
    offset = value.utcoffset() or dt.timedelta(0)
    if isinstance(value.tzinfo, dt.timezone) and offset == dt.timedelta(0):
        seconds = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
        return f"{date_part}T{seconds}{_fraction(value.microsecond * 1000)}Z"
    text = f"{date_part}T{java_time(value.time())}{java_offset(offset)}"
    if isinstance(value.tzinfo, ZoneInfo):
        text += f"[{value.tzinfo.key}]"
    return text


def java_offset(offset: dt.timedelta) -> str:
    """Java ``ZoneOffset.toString``: ``Z`` or ``+01:00``."""
    total = int(offset.total_seconds())
    if total == 0:
        return "Z"
    sign = "+" if total > 0 else "-"
    total = abs(total)
    text = f"{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"
    return text + (f":{total % 60:02d}" if total % 60 else "")


def _scalar_string(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, dt.datetime):
        return java_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return java_time(value)
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    if isinstance(value, Decimal):
        return str(value)
    return None


def java_string(value: Any) -> str:
    """Java's ``String.valueOf``: ``null``, ``{a=1, b=2}``, ``[1, 2]``, ``true``, ``1.0``."""
    if value is None:
        return "null"
    text = _scalar_string(value)
    if text is not None:
        return text
    if isinstance(value, Mapping):
        inner = ", ".join(f"{java_string(k)}={java_string(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple | Set):
        return "[" + ", ".join(java_string(item) for item in value) + "]"
    return str(value)


def output_string(value: Any) -> str:
    """What ``{{ value }}`` writes (Kestra's ``JsonWriter``): JSON for maps and lists."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    text = _scalar_string(value)
    if text is not None:
        return text
    if isinstance(value, Mapping | list | tuple | Set):
        return to_json(value)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Entry):
        return {value.key: value.value}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Set | tuple):
        return list(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    if isinstance(value, dt.time):
        return java_time(value)
    raise TypeError(f"cannot serialize {type(value).__name__} to JSON")


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def to_json(value: Any) -> str:
    """Compact JSON as Jackson writes it (``{"a":1}``, ``[1,2]``, non-ASCII kept)."""
    try:
        return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS).decode()
    except TypeError:
        # orjson refuses integers wider than 64 bits; the stdlib does not.
        return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)
