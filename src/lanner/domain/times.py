"""Java-compatible time texts: ISO-8601 durations (``Duration.parse``/``toString``) and
instants (``Instant.toString``), as Kestra reads and writes them everywhere (inputs, retries,
timeouts, TTLs, state durations, template printing). Imports only the standard library.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_DURATION_RE = re.compile(
    r"^([-+]?)P(?:([-+]?[0-9]+)D)?"
    r"(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$",
    re.IGNORECASE,
)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC: the default clock wherever one is injectable."""
    return datetime.now(UTC)


def format_instant(value: datetime) -> str:
    """Java ``Instant.toString``: UTC with ``Z``, fraction only when non-zero."""
    value = value.astimezone(UTC) if value.tzinfo is not None else value
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        millis, micros = divmod(value.microsecond, 1000)
        text += f".{millis:03d}" if micros == 0 else f".{value.microsecond:06d}"
    return text + "Z"


def parse_duration(text: str) -> timedelta | None:
    """Java ``Duration.parse`` (``PnDTnHnMn.nS``); None when not a duration."""
    match = _DURATION_RE.match(text.strip())
    if match is None or (match.group(3) is not None and match.group(3).upper() == "T"):
        return None
    sign, days, time_part, hours, minutes, seconds, fraction = match.groups()
    if days is None and time_part is None:
        return None
    micros = int((fraction or "").ljust(6, "0")[:6] or 0)
    whole = int(seconds or 0)
    total = timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=whole,
        microseconds=-micros if whole < 0 or (seconds or "").startswith("-") else micros,
    )
    return -total if sign == "-" else total


def format_duration(value: timedelta) -> str:
    """Java ``Duration.toString`` (``PT5S``, ``PT1H30M``, ``PT0.5S``, ``PT24H``)."""
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    if micros == 0:
        return "PT0S"
    sign = "-" if micros < 0 else ""
    hours, rest = divmod(abs(micros), 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, fraction = divmod(rest, 1_000_000)
    text = "PT"
    if hours:
        text += f"{sign}{hours}H"
    if minutes:
        text += f"{sign}{minutes}M"
    if seconds or fraction:
        text += f"{sign}{seconds}" + (f".{fraction:06d}".rstrip("0") if fraction else "") + "S"
    return text


def seconds_of(value: Any) -> float | None:
    """Seconds of a number or an ISO-8601 duration text; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        duration = parse_duration(value)
        return duration.total_seconds() if duration is not None else None
    return None
