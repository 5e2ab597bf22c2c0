"""Week-based date fields (``Y``, ``w``, ``W``) as Java formats them for ``en_US``.

The expected values were printed by ``DateTimeFormatter.ofPattern("YYYY-'W'ww-W", Locale.US)``
on OpenJDK (weeks start on Sunday; week 1 holds January 1); ISO weeks differ on each of them.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lanner.templating import TemplateEngine
from lanner.templating.javatime import format_pattern

JAVA = {
    "2020-12-27": "2021-W01-5",
    "2020-12-31": "2021-W01-5",
    "2021-01-01": "2021-W01-1",
    "2021-01-02": "2021-W01-1",
    "2021-01-03": "2021-W02-2",
    "2021-12-27": "2022-W01-5",
    "2022-01-01": "2022-W01-1",
    "2022-01-02": "2022-W02-2",
    "2022-01-03": "2022-W02-2",
    "2022-12-27": "2022-W53-5",
    "2022-12-31": "2022-W53-5",
    "2023-01-01": "2023-W01-1",
    "2023-02-01": "2023-W05-1",
    "2023-02-04": "2023-W05-1",
    "2023-02-05": "2023-W06-2",
    "2023-04-30": "2023-W18-6",
    "2023-07-15": "2023-W28-3",
    "2023-09-30": "2023-W39-5",
    "2023-12-31": "2024-W01-6",
    "2024-12-29": "2025-W01-5",
    "2025-12-28": "2026-W01-5",
    "2026-12-31": "2027-W01-5",
    "2027-01-03": "2027-W02-2",
    "2027-12-31": "2028-W01-5",
}


@pytest.mark.parametrize(("day", "expected"), JAVA.items())
def test_week_fields_follow_java_en_us(day: str, expected: str) -> None:
    value = dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)
    assert format_pattern(value, "YYYY-'W'ww-W") == expected


def test_date_filter_uses_us_weeks() -> None:
    rendered = TemplateEngine().render(
        "{{ d | date(\"YYYY-'W'ww\", timeZone='UTC') }}", {"d": "2023-01-01T10:00:00Z"}
    )
    assert rendered == "2023-W01"
