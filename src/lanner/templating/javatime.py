"""Java ``DateTimeFormatter`` patterns, written by hand.

Kestra's ``date`` filter, ``dateAdd`` and ``now()`` take Java patterns (``yyyy-MM-dd'T'HH:mm:ss
.SSSXXX``) and named formats (``iso``, ``iso_instant``, ``rfc_1123_date_time``, ``short``...).
Python's ``strftime`` cannot stand in: its directives differ letter by letter, it has no
fraction widths (``SSS``), no Java offset styles (``X``/``XXX``/``x``/``Z``/``VV``), no quoted
literals and it depends on the C library's locale; no maintained PyPI package translates Java
patterns either. So this module tokenizes the pattern itself and formats (and parses) each
field. Text is English (Java's default ``en_US`` with CLDR data, as Kestra servers run);
week-based fields (``Y``, ``w``, ``W``) follow en_US weeks: they start on Sunday and week 1
is the one holding January 1 (minimal days 1).

Imports only the standard library and this package.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

from .printing import java_offset

MONTHS = [
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_LONG_ZONE_NAMES = {"UTC": "Coordinated Universal Time", "GMT": "Greenwich Mean Time"}
_ORDINALS = ["1st", "2nd", "3rd", "4th"]
_NNBSP = "\u202f"  # CLDR 42+ (Java 20+) puts a narrow no-break space before AM/PM

PATTERNS = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_seq": "yyyy-MM-dd HH:mm:ss",
    "short": f"M/d/yy, h:mm{_NNBSP}a",
    "medium": f"MMM d, y, h:mm:ss{_NNBSP}a",
    "long": f"MMMM d, y 'at' h:mm:ss{_NNBSP}a z",
    "full": f"EEEE, MMMM d, y 'at' h:mm:ss{_NNBSP}a zzzz",
}

_TOKEN_RE = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|[^A-Za-z']+")
_KNOWN_LETTERS = set("GuyYQqMLwWdDEecaHhKkmsSnNAVzOXxZ")


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> tuple[str | tuple[str, int], ...]:
    """Split a Java pattern into literals and ``(letter, count)`` fields."""
    parts: list[str | tuple[str, int]] = []
    for match in _TOKEN_RE.finditer(pattern):
        text = match.group(0)
        if text.startswith("'"):
            parts.append("'" if text == "''" else text[1:-1].replace("''", "'"))
        elif match.group(1):
            if text[0] not in _KNOWN_LETTERS:
                raise ValueError(f"Unknown pattern letter: {text[0]}")
            parts.append((text[0], len(text)))
        else:
            parts.append(text.replace("[", "").replace("]", ""))
    return tuple(parts)


def _offset_text(offset: dt.timedelta, colon: bool, zero: str, minutes: str) -> str:
    total = int(offset.total_seconds())
    if total == 0 and zero:
        return zero
    sign = "+" if total >= 0 else "-"
    hours, rest = divmod(abs(total), 3600)
    mins, secs = divmod(rest, 60)
    sep = ":" if colon else ""
    text = f"{sign}{hours:02d}"
    if minutes == "always" or (minutes == "optional" and (mins or secs)):
        text += f"{sep}{mins:02d}"
    if secs and minutes != "never":
        text += f"{sep}{secs:02d}"
    return text


def _zone_id(value: dt.datetime) -> str:
    if isinstance(value.tzinfo, ZoneInfo):
        return value.tzinfo.key
    return java_offset(value.utcoffset() or dt.timedelta(0))


def _zone_name(value: dt.datetime, count: int) -> str:
    if isinstance(value.tzinfo, dt.timezone):
        return java_offset(value.utcoffset() or dt.timedelta(0))
    short = value.tzname() or _zone_id(value)
    return _LONG_ZONE_NAMES.get(short, short) if count >= 4 else short


def _gmt(offset: dt.timedelta, long: bool) -> str:
    if not offset:
        return "GMT"
    if long:
        return "GMT" + _offset_text(offset, True, "", "always")
    total = int(offset.total_seconds())
    hours, rest = divmod(abs(total), 3600)
    return f"GMT{'+' if total > 0 else '-'}{hours}" + (f":{rest // 60:02d}" if rest else "")


def _days_since_sunday(day: dt.date) -> int:
    return (day.weekday() + 1) % 7


def us_week(day: dt.date) -> tuple[int, int]:
    """The week-based year and week of ``day`` by Java's ``en_US`` ``WeekFields`` (Sunday first,
    minimal days 1): the week holding January 1 is week 1 of that year."""
    start = day - dt.timedelta(days=_days_since_sunday(day))
    next_year = dt.date(day.year + 1, 1, 1)
    if start + dt.timedelta(days=6) >= next_year:
        return day.year + 1, 1
    january_1 = dt.date(day.year, 1, 1)
    first_start = january_1 - dt.timedelta(days=_days_since_sunday(january_1))
    return day.year, (start - first_start).days // 7 + 1


def _text(value: int, names: list[str], count: int) -> str:
    name = names[value]
    return name[:3] if count <= 3 else name if count == 4 else name[0]


def _field(value: dt.datetime, letter: str, count: int) -> str:
    nanos = value.microsecond * 1000
    offset = value.utcoffset()
    if letter in "uy":
        return f"{value.year % 100:02d}" if count == 2 else str(value.year).zfill(count)
    if letter == "Y":
        year = us_week(value.date())[0]
        return f"{year % 100:02d}" if count == 2 else str(year).zfill(count)
    if letter in "ML":
        return (
            str(value.month).zfill(count) if count <= 2 else _text(value.month - 1, MONTHS, count)
        )
    if letter == "d":
        return str(value.day).zfill(count)
    if letter == "D":
        return str(value.timetuple().tm_yday).zfill(count)
    if letter == "E" or (letter in "ec" and count >= 3):
        return _text(value.weekday(), DAYS, count)
    if letter in "ec":
        return str((value.weekday() + 1) % 7 + 1)
    if letter == "a":
        return "AM" if value.hour < 12 else "PM"
    if letter == "H":
        return str(value.hour).zfill(count)
    if letter == "h":
        return str(value.hour % 12 or 12).zfill(count)
    if letter == "K":
        return str(value.hour % 12).zfill(count)
    if letter == "k":
        return str(value.hour or 24).zfill(count)
    if letter == "m":
        return str(value.minute).zfill(count)
    if letter == "s":
        return str(value.second).zfill(count)
    if letter == "S":
        return f"{nanos:09d}"[:count].ljust(count, "0")
    if letter == "n":
        return str(nanos).zfill(count)
    if letter == "A":
        millis = ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + nanos // 10**6
        return str(millis).zfill(count)
    if letter == "N":
        seconds = (value.hour * 60 + value.minute) * 60 + value.second
        return str(seconds * 10**9 + nanos).zfill(count)
    if letter == "G":
        return "AD" if count <= 3 else "Anno Domini" if count == 4 else "A"
    if letter in "Qq":
        quarter = (value.month - 1) // 3 + 1
        if count <= 2:
            return str(quarter).zfill(count)
        return f"Q{quarter}" if count == 3 else f"{_ORDINALS[quarter - 1]} quarter"
    if letter == "w":
        return str(us_week(value.date())[1]).zfill(count)
    if letter == "W":
        first = value.date().replace(day=1)
        return str((value.day - 1 + _days_since_sunday(first)) // 7 + 1).zfill(count)
    if offset is None:
        raise ValueError(f"Unable to extract {letter * count}: the value has no time zone")
    if letter == "V":
        return _zone_id(value)
    if letter == "z":
        return _zone_name(value, count)
    if letter == "O":
        return _gmt(offset, count == 4)
    if letter in "Xx":
        zero = "Z" if letter == "X" else ""
        minutes = "optional" if count == 1 else "always"
        text = _offset_text(offset, count in (3, 5), zero, minutes)
        return (
            text
            if text != ""
            else ("+00" if count == 1 else "+00:00" if count in (3, 5) else "+0000")
        )
    if letter == "Z":
        if count <= 3:
            return _offset_text(offset, False, "", "always") if offset else "+0000"
        if count == 4:
            return _gmt(offset, True)
        return _offset_text(offset, True, "Z", "always")
    raise ValueError(f"Unsupported pattern letter: {letter}")


def format_pattern(value: dt.datetime, pattern: str) -> str:
    """Format ``value`` with a Java ``DateTimeFormatter`` pattern."""
    out = []
    for part in compile_pattern(pattern):
        out.append(part if isinstance(part, str) else _field(value, *part))
    return "".join(out)


def _iso_time(value: dt.datetime) -> str:
    nanos = value.microsecond * 1000
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    return text + (f".{nanos:09d}".rstrip("0") if nanos else "")


def _instant(value: dt.datetime) -> str:
    utc = value.astimezone(dt.UTC)
    nanos = utc.microsecond * 1000
    fraction = ""
    if nanos:
        digits = f"{nanos:09d}"
        fraction = "." + (
            digits[:3] if nanos % 10**6 == 0 else digits[:6] if nanos % 1000 == 0 else digits
        )
    return f"{utc.date().isoformat()}T{utc.strftime('%H:%M:%S')}{fraction}Z"


def format_named(value: dt.datetime, name: str) -> str | None:
    """Format with one of the ``DateTimeFormatter.ISO_*`` constants Kestra names, or ``None``."""
    offset = java_offset(value.utcoffset() or dt.timedelta(0))
    date, time = value.date().isoformat(), _iso_time(value)
    region = f"[{value.tzinfo.key}]" if isinstance(value.tzinfo, ZoneInfo) else ""
    formats = {
        "iso_date_time": lambda: f"{date}T{time}{offset}{region}",
        "iso_zoned_date_time": lambda: f"{date}T{time}{offset}{region}",
        "iso_offset_date_time": lambda: f"{date}T{time}{offset}",
        "iso_date": lambda: f"{date}{offset}",
        "iso_time": lambda: f"{time}{offset}",
        "iso_offset_time": lambda: f"{time}{offset}",
        "iso_local_date": lambda: date,
        "iso_local_time": lambda: time,
        "iso_local_date_time": lambda: f"{date}T{time}",
        "iso_instant": lambda: _instant(value),
        "iso_ordinal_date": lambda: f"{value.year}-{value.timetuple().tm_yday:03d}{offset}",
        "iso_week_date": lambda: "{}-W{:02d}-{}".format(*value.isocalendar()) + offset,
        "rfc_1123_date_time": lambda: (
            format_pattern(value, "EEE, d MMM yyyy HH:mm:ss ")
            + (_offset_text(value.utcoffset() or dt.timedelta(0), False, "GMT", "always"))
        ),
    }
    maker = formats.get(name)
    return None if maker is None else maker()


def format_any(value: dt.datetime, fmt: str) -> str:
    """A named format (``iso``, ``iso_date``, ``short``...) or a Java pattern."""
    named = format_named(value, fmt)
    return named if named is not None else format_pattern(value, PATTERNS.get(fmt, fmt))


# -- parsing -----------------------------------------------------------------------------

_OFFSET_RE = r"(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?|GMT(?:[+-]\d{1,2}(?::?\d{2})?)?)"
_ZONE_ID_RE = r"([A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*)"


def _alternatives(names: list[str], short: bool) -> str:
    return "(" + "|".join(n[:3] if short else n for n in names) + ")"


def _parse_regex(pattern: str) -> tuple[re.Pattern[str], list[str]]:
    regex, fields = [], []
    for part in compile_pattern(pattern):
        if isinstance(part, str):
            regex.append(re.escape(part))
            continue
        letter, count = part
        if letter in "uyY":
            piece = (
                r"(\d{2})" if count == 2 else r"([+-]?\d{4,9})" if count == 4 else r"([+-]?\d{1,9})"
            )
        elif letter in "ML" and count >= 3:
            piece = _alternatives(MONTHS, count == 3)
        elif letter in "Ee":
            piece = _alternatives(DAYS, count <= 3)
        elif letter == "a":
            piece = "(AM|PM|am|pm)"
        elif letter == "S":
            piece = rf"(\d{{{count}}})"
        elif letter in "XxZO":
            piece = _OFFSET_RE
        elif letter in "Vz":
            piece = _ZONE_ID_RE
        else:
            piece = rf"(\d{{{count},2}})" if count <= 2 else rf"(\d{{{count}}})"
        regex.append(piece)
        fields.append(letter)
    return re.compile("".join(regex), re.IGNORECASE), fields


def _offset_zone(text: str) -> dt.tzinfo:
    if text.upper() in ("Z", "GMT", "UTC"):
        return dt.UTC
    text = text.upper().removeprefix("GMT")
    sign = -1 if text.startswith("-") else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2] or 0), int(digits[2:4] or 0)
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def zone_of(name: str) -> dt.tzinfo:
    """Java's ``ZoneId.of``: a region (``Europe/Paris``), ``UTC``, or an offset (``+02:00``)."""
    if re.fullmatch(r"(?:GMT|UTC)?[+-]\d{1,2}(?::?\d{2})?|Z", name):
        return _offset_zone(name.removeprefix("UTC"))
    try:
        return ZoneInfo(name)
    except (ValueError, OSError) as error:
        raise ValueError(f"Unknown time-zone ID: {name}") from error


def parse_pattern(text: str, pattern: str, zone: dt.tzinfo) -> dt.datetime:
    """Parse ``text`` with a Java pattern; fields it lacks take Java's defaults."""
    regex, fields = _parse_regex(PATTERNS.get(pattern, pattern))
    match = regex.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"Text '{text}' could not be parsed with pattern '{pattern}'")
    values: dict[str, Any] = {"y": 1970, "M": 1, "d": 1, "H": 0, "m": 0, "s": 0, "us": 0}
    tz: dt.tzinfo | None = None
    pm: bool | None = None
    for letter, raw in zip(fields, match.groups(), strict=True):
        if letter in "uyY":
            values["y"] = 2000 + int(raw) if len(raw) == 2 else int(raw)
        elif letter in "ML":
            values["M"] = (
                int(raw)
                if raw.isdigit()
                else [m[:3].lower() for m in MONTHS].index(raw[:3].lower()) + 1
            )
        elif letter in "dHms":
            values[letter] = int(raw)
        elif letter in "hKk":
            values["H"] = int(raw) % (24 if letter == "k" else 12)
        elif letter == "a":
            pm = raw.upper() == "PM"
        elif letter == "S":
            values["us"] = int(raw.ljust(6, "0")[:6])
        elif letter in "XxZO":
            tz = _offset_zone(raw)
        elif letter in "Vz":
            tz = zone_of(raw) if "/" in raw or raw.upper() in ("UTC", "GMT", "Z") else tz
    if pm:
        values["H"] += 12
    naive = dt.datetime(
        values["y"], values["M"], values["d"], values["H"], values["m"], values["s"], values["us"]
    )
    return naive.replace(tzinfo=tz or zone)


_ISO_RE = re.compile(r"(?P<body>[^\[]+)(?:\[(?P<zone>[^\]]+)\])?")


def parse_iso(text: str, zone: dt.tzinfo) -> dt.datetime:
    """``ZonedDateTime.parse``, else ``LocalDateTime.parse`` at ``zone``, else a date at 00:00."""
    match = _ISO_RE.fullmatch(text.strip())
    if match is None or ("T" not in match["body"] and len(match["body"]) != 10):
        raise ValueError(f"Text '{text}' could not be parsed")
    value = dt.datetime.fromisoformat(match["body"])
    if match["zone"]:
        region = zone_of(match["zone"])
        return value.astimezone(region) if value.tzinfo else value.replace(tzinfo=region)
    return value if value.tzinfo else value.replace(tzinfo=zone)


def parse_named(text: str, name: str, zone: dt.tzinfo) -> dt.datetime:
    """Parse with a named format (``rfc_1123_date_time``, ``iso_*``) or a Java pattern."""
    if name == "rfc_1123_date_time":
        return parsedate_to_datetime(text)
    if name.startswith("iso") and name not in PATTERNS:
        return parse_iso(text, zone)
    return parse_pattern(text, name, zone)
