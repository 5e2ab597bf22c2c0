"""Cron expressions of the ``Schedule`` trigger: parsed once, stepped in the trigger's zone.

The library is **croniter** (7.x, released November 2026, maintained under the pallets-eco
organisation by Airflow's maintainers): it has everything Kestra's cron-utils definition
accepts — 5 fields, a leading seconds field (``withSeconds``, ``second_at_beginning``), the
``@yearly``/``@annually``/``@monthly``/``@weekly``/``@daily``/``@midnight``/``@hourly``
nicknames, ``L``, ``W``, ``#``, names of months and days, day of week 0-7 — and steps through
timezone-aware datetimes, so a DST change neither repeats nor loses an instant. cronsim (2.x,
equally maintained, very careful with DST) was weighed: it has no seconds field, and Kestra's
``withSeconds`` needs one. croniter itself accepts a trailing seconds field and a year field;
the field count is checked here so that only Kestra's shapes pass.

Every instant returned is timezone-aware UTC, truncated to the second. Imports croniter and
the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

NICKNAMES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_NICKNAME_FIELDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_TINY = timedelta(microseconds=1)


class CronError(ValueError):
    """A cron expression or timezone Kestra would refuse; the message says why."""


def zone_of(name: str | None) -> ZoneInfo:
    """The named IANA zone (UTC when None); :class:`CronError` for an unknown one."""
    if name is None or name.strip() == "":
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"invalid timezone '{name}'") from None


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed expression in ``zone``; see :func:`parse_cron`."""

    expression: str
    with_seconds: bool
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def next_after(self, moment: datetime) -> datetime | None:
        """The first instant strictly after ``moment``; None when there is none."""
        local = moment.astimezone(self.zone)
        try:
            found = croniter(
                self.expression, local, second_at_beginning=self.with_seconds
            ).get_next(datetime)
        except CroniterBadDateError:
            return None
        return _utc(found)

    def at_or_after(self, moment: datetime) -> datetime | None:
        """The first instant at or after ``moment`` (truncated to the second)."""
        return self.next_after(moment.replace(microsecond=0) - _TINY)

    def previous_before(self, moment: datetime) -> datetime | None:
        """The last instant strictly before ``moment``."""
        local = moment.astimezone(self.zone)
        try:
            found = croniter(
                self.expression, local, second_at_beginning=self.with_seconds
            ).get_prev(datetime)
        except CroniterBadDateError:
            return None
        return _utc(found)

    def at_or_before(self, moment: datetime) -> datetime | None:
        """The last instant at or before ``moment``."""
        return self.previous_before(moment.replace(microsecond=0) + timedelta(seconds=1) - _TINY)


def parse_cron(
    expression: str, *, with_seconds: bool = False, zone: ZoneInfo | None = None
) -> Cron:
    """``expression`` checked: 5 fields (6 with ``with_seconds``, seconds first) or a nickname;
    :class:`CronError` otherwise."""
    text = " ".join(expression.split())
    if text.lower() in NICKNAMES:
        fields = _NICKNAME_FIELDS[text.lower()]
        text = f"0 {fields}" if with_seconds else fields
    else:
        wanted = 6 if with_seconds else 5
        count = len(text.split(" ")) if text else 0
        if count != wanted:
            raise CronError(
                f"invalid cron expression '{expression}': expected {wanted} fields, got {count}"
            )
    if not croniter.is_valid(text, second_at_beginning=with_seconds):
        raise CronError(f"invalid cron expression '{expression}'")
    return Cron(text, with_seconds, zone or ZoneInfo("UTC"))


def _utc(found: datetime) -> datetime:
    return found.astimezone(UTC).replace(microsecond=0)
