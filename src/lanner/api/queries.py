"""Query-string conventions shared by the search endpoints: paging, sort and ``filters[...]``.

Kestra 1.x sends ``filters[<field>][<OP>]=<value>`` (labels as ``filters[labels][EQUALS][k]=v``)
beside the legacy per-endpoint parameters; both are read here into plain values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from lanner.domain.times import parse_duration
from lanner.errors import ErrorDetail, IllegalArgumentError

FILTER_KEY = re.compile(r"^filters\[([A-Za-z]+)\]\[([A-Z_]+)\](?:\[([^\]]*)\])?$")

OPERATIONS = frozenset(
    {
        "EQUALS",
        "NOT_EQUALS",
        "GREATER_THAN",
        "LESS_THAN",
        "GREATER_THAN_OR_EQUAL_TO",
        "LESS_THAN_OR_EQUAL_TO",
        "IN",
        "NOT_IN",
        "STARTS_WITH",
        "ENDS_WITH",
        "CONTAINS",
        "REGEX",
        "PREFIX",
    }
)


@dataclass(frozen=True, slots=True)
class QueryFilter:
    """One ``filters[field][operation][key]=value`` parameter."""

    field: str
    operation: str
    value: str
    key: str | None = None


def parse_filters(items: Iterable[tuple[str, str]]) -> list[QueryFilter]:
    """Every ``filters[...]`` parameter of a query string, validated."""
    found: list[QueryFilter] = []
    for name, value in items:
        if not name.startswith("filters["):
            continue
        match = FILTER_KEY.match(name)
        if match is None or match.group(2) not in OPERATIONS:
            raise IllegalArgumentError(
                f"Illegal argument: invalid filter '{name}'", [ErrorDetail(name, "invalid filter")]
            )
        found.append(QueryFilter(match.group(1), match.group(2), value, match.group(3)))
    return found


def parse_labels(values: Sequence[str]) -> dict[str, str]:
    """Legacy ``labels=key:value`` parameters."""
    labels: dict[str, str] = {}
    for raw in values:
        key, sep, value = raw.partition(":")
        if not sep or not key:
            raise IllegalArgumentError(
                f"Illegal argument: invalid label '{raw}', expected key:value",
                [ErrorDetail("labels", "expected key:value")],
            )
        labels[key] = value
    return labels


_DIRECTIONS = ("asc", "desc")


def parse_sort(values: Sequence[str], allowed: Iterable[str]) -> list[tuple[str, bool]]:
    """``sort`` parameters as ``(field, descending)`` pairs, in Kestra's spellings:
    ``field:desc``, ``field,desc`` (Spring's), several fields per value or several values."""
    allowed_set = frozenset(allowed)
    pairs: list[tuple[str, bool]] = []
    for raw in values:
        directed = True  # whether the last pair of this value has its direction yet
        for part in raw.split(","):
            field, colon, direction = part.strip().partition(":")
            if not field:
                continue
            if not colon and field.lower() in _DIRECTIONS and pairs and not directed:
                pairs[-1] = (pairs[-1][0], field.lower() == "desc")
                directed = True
                continue
            if field not in allowed_set or direction.lower() not in ("", *_DIRECTIONS):
                raise IllegalArgumentError(
                    f"Illegal argument: invalid sort '{part}'",
                    [ErrorDetail("sort", f"sortable fields: {', '.join(sorted(allowed_set))}")],
                )
            pairs.append((field, direction.lower() == "desc"))
            directed = bool(colon)
    return pairs


MAX_PAGE_SIZE = 10_000  # the store's limit
INT_MAX = 2**31 - 1  # Kestra's ints are Java ints; larger ones would overflow the database
# Paging as documented (``check_paging`` refuses the rest with 422, as Kestra does).
PageParam = Annotated[int, Query(le=INT_MAX, json_schema_extra={"minimum": 1})]
SizeParam = Annotated[int, Query(json_schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE})]


RevisionParam = Annotated[int | None, Query(ge=-INT_MAX - 1, le=INT_MAX)]


def check_paging(page: int, size: int) -> None:
    details = []
    if page < 1:
        details.append(ErrorDetail("page", "must be greater than or equal to 1"))
    if size < 1:
        details.append(ErrorDetail("size", "must be greater than or equal to 1"))
    if details:
        text = ", ".join(f"{d.path}: {d.message}" for d in details)
        raise IllegalArgumentError(f"Invalid entity: {text}", details)


def parse_time_range(raw: str) -> datetime:
    """``timeRange=PT1H``: the instant that long ago (the start of the searched range)."""
    duration = parse_duration(raw)
    if duration is None:
        raise IllegalArgumentError(
            f"Illegal argument: invalid timeRange '{raw}', expected an ISO-8601 duration",
            [ErrorDetail("timeRange", "expected an ISO-8601 duration")],
        )
    return datetime.now(UTC) - duration
