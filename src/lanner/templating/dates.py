"""Kestra's date filters (``date``, ``dateAdd``, ``timestamp*``) and the ``now()`` function.

Inputs are converted as Kestra's ``AbstractDate.convert`` does: aware datetimes as they are,
naive datetimes in the requested zone, dates at noon, integers as epoch seconds, strings
parsed as ISO (zoned, then local, then a date at midnight) or with ``existingFormat``. The
result is formatted in the requested zone (``timeZone``, default the engine's zone).

Imports only the standard library, jinja2 and this package.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING, Any

from jinja2 import pass_environment

from .errors import TemplateRenderError
from .javatime import format_any, parse_iso, parse_named, zone_of

if TYPE_CHECKING:
    from jinja2.runtime import Context

    from .settings import RenderSettings


_EXACT_UNITS = {
    "NANOS": dt.timedelta(microseconds=0.001),
    "MICROS": dt.timedelta(microseconds=1),
    "MILLIS": dt.timedelta(milliseconds=1),
    "SECONDS": dt.timedelta(seconds=1),
    "MINUTES": dt.timedelta(minutes=1),
    "HOURS": dt.timedelta(hours=1),
    "HALF_DAYS": dt.timedelta(hours=12),
}
_MONTHS_PER = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200, "MILLENNIA": 12000}


def _zone(env: RenderSettings, time_zone: Any) -> dt.tzinfo:
    if time_zone is None:
        return env.default_zone
    try:
        return zone_of(str(time_zone))
    except ValueError as error:
        raise TemplateRenderError(str(error)) from error


def to_datetime(value: Any, zone: dt.tzinfo, existing_format: str | None = None) -> dt.datetime:
    """Kestra's ``AbstractDate.convert``."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(12), zone)
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, zone)
    if not isinstance(value, str):
        raise TemplateRenderError(f"cannot use {type(value).__name__} as a date")
    try:
        if existing_format is not None:
            return parse_named(value, existing_format, zone)
        return parse_iso(value, zone)
    except ValueError as error:
        raise TemplateRenderError(f"Text '{value}' could not be parsed: {error}") from error


def format_datetime(value: dt.datetime, fmt: Any, zone: dt.tzinfo) -> str:
    try:
        return format_any(value.astimezone(zone), "iso" if fmt is None else str(fmt))
    except ValueError as error:
        raise TemplateRenderError(str(error)) from error


@pass_environment
def date(
    env: RenderSettings,
    value: Any,
    format: Any = None,
    timeZone: Any = None,
    existingFormat: Any = None,
    locale: Any = None,
) -> str | None:
    if value is None:
        return None
    zone = _zone(env, timeZone)
    return format_datetime(to_datetime(value, zone, existingFormat), format, zone)


def _plus(value: dt.datetime, amount: int, unit: str) -> dt.datetime:
    if unit in _EXACT_UNITS:
        utc = value.astimezone(dt.UTC) + _EXACT_UNITS[unit] * amount
        return utc.astimezone(value.tzinfo)
    if unit in ("DAYS", "WEEKS"):
        return value + dt.timedelta(days=amount * (7 if unit == "WEEKS" else 1))
    if unit in _MONTHS_PER:
        months = value.year * 12 + value.month - 1 + amount * _MONTHS_PER[unit]
        year, month = divmod(months, 12)
        day = min(value.day, calendar.monthrange(year, month + 1)[1])
        return value.replace(year=year, month=month + 1, day=day)
    raise TemplateRenderError(f"No enum constant java.time.temporal.ChronoUnit.{unit}")


@pass_environment
def date_add(
    env: RenderSettings,
    value: Any,
    amount: Any = None,
    unit: Any = None,
    format: Any = None,
    timeZone: Any = None,
    existingFormat: Any = None,
    locale: Any = None,
) -> str | None:
    if value is None:
        return None
    if not isinstance(amount, int) or not isinstance(unit, str):
        raise TemplateRenderError("dateAdd expects an integer 'amount' and a 'unit' (DAYS...)")
    zone = _zone(env, timeZone)
    moved = _plus(to_datetime(value, zone, existingFormat), amount, unit)
    return format_datetime(moved, format, zone)


def _epoch(env: RenderSettings, value: Any, time_zone: Any, existing: Any) -> tuple[int, int]:
    moment = to_datetime(value, _zone(env, time_zone), existing)
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return delta.days * 86400 + delta.seconds, delta.microseconds * 1000


@pass_environment
def timestamp(
    env: RenderSettings, value: Any, timeZone: Any = None, existingFormat: Any = None
) -> int | None:
    return None if value is None else _epoch(env, value, timeZone, existingFormat)[0]


@pass_environment
def timestamp_milli(
    env: RenderSettings, value: Any, timeZone: Any = None, existingFormat: Any = None
) -> int | None:
    if value is None:
        return None
    seconds, nanos = _epoch(env, value, timeZone, existingFormat)
    return seconds * 1000 + nanos // 1_000_000


@pass_environment
def timestamp_micro(
    env: RenderSettings, value: Any, timeZone: Any = None, existingFormat: Any = None
) -> int | None:
    # Kestra 0.20 computes epochSecond * 10^9 + nano / 1000 (DateFilterTest.instantmicro);
    # reproduced as is so flows get the same number.
    if value is None:
        return None
    seconds, nanos = _epoch(env, value, timeZone, existingFormat)
    return seconds * 1_000_000_000 + nanos // 1000


@pass_environment
def timestamp_nano(
    env: RenderSettings, value: Any, timeZone: Any = None, existingFormat: Any = None
) -> int | None:
    if value is None:
        return None
    seconds, nanos = _epoch(env, value, timeZone, existingFormat)
    return seconds * 1_000_000_000 + nanos


def now(context: Context, format: Any = None, timeZone: Any = None, locale: Any = None) -> str:
    env: RenderSettings = context.environment  # type: ignore[assignment]
    zone = _zone(env, timeZone)
    return format_datetime(env.clock(), format, zone)


DATE_FILTERS = {
    "date": date,
    "dateAdd": date_add,
    "timestamp": timestamp,
    "timestampMilli": timestamp_milli,
    "timestampMicro": timestamp_micro,
    "timestampNano": timestamp_nano,
}
