"""Kestra's ION files (``FileSerde``): one Amazon Ion text value per line.

Rows are parsed with the ``amazon-ion`` library and turned into plain Python values (dicts,
lists, strings, numbers, ``None``; symbols as strings, timestamps as ISO-8601 text, integral
decimals as ints and others as floats) so Pebble expressions see what Kestra's Jackson mapping
gives them. Pure: no I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from amazon.ion import simpleion
from amazon.ion.core import IonType
from amazon.ion.simple_types import IonPyNull, IonPySymbol


class IonError(ValueError):
    """A line is not one valid Ion value."""


def lines(data: bytes) -> Iterator[str]:
    """The text lines of ``data`` (``\\n``, ``\\r\\n`` or ``\\r`` ends one, as Java's
    ``BufferedReader.readLine``); a final line ending does not start an empty line."""
    text = data.decode("utf-8", errors="replace")
    yield from text.splitlines() if "\x0b" not in text and "\x0c" not in text else _split(text)


def _split(text: str) -> Iterator[str]:
    # str.splitlines also splits on \v, \f, \x1c-\x1e, \x85 and \u2028/9; Java does not.
    start, i, end = 0, 0, len(text)
    while i < end:
        c = text[i]
        if c in "\r\n":
            yield text[start:i]
            if c == "\r" and i + 1 < end and text[i + 1] == "\n":
                i += 1
            start = i + 1
        i += 1
    if start < end:
        yield text[start:]


def parse_row(line: str) -> Any:
    """One Ion text value as plain Python values."""
    try:
        value = simpleion.loads(line, single_value=True)
    except Exception as error:  # the library raises several unrelated exception types
        raise IonError(f"invalid ION row `{line[:200]}`: {error}") from None
    return _plain(value)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, IonPyNull):
        return None
    if isinstance(value, IonPySymbol):
        return value.text
    ion_type = getattr(value, "ion_type", None)
    if ion_type is IonType.BOOL or isinstance(value, bool):
        return bool(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Sequence):
        return [_plain(item) for item in value]
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return datetime.isoformat(value).replace("+00:00", "Z")
    return str(value)
