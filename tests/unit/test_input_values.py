"""Coercion of submitted inputs by their declarations (pure, no I/O)."""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from lanner.domain.input_values import (
    InputValuesError,
    coerce_inputs,
    format_duration,
    format_instant,
    parse_duration,
)
from lanner.domain.inputs import InputSpec, InputType


def spec(
    input_id: str, kind: str, *, required: bool = True, defaults: Any = None, **props: Any
) -> InputSpec:
    return InputSpec(
        id=input_id,
        type=InputType(kind),
        required=required,
        defaults=defaults,
        has_defaults=defaults is not None,
        properties=MappingProxyType(props),
    )


def one(s: InputSpec, value: Any) -> Any:
    return coerce_inputs([s], {s.id: value}, parse_yaml=yaml.safe_load)[s.id]


def problem(s: InputSpec, value: Any) -> str:
    with pytest.raises(InputValuesError) as caught:
        coerce_inputs([s], {} if value is None else {s.id: value}, parse_yaml=yaml.safe_load)
    (found,) = caught.value.problems
    assert found.input_id == s.id
    return found.message


@pytest.mark.parametrize(
    ("kind", "props", "raw", "expected"),
    [
        ("STRING", {}, "hello", "hello"),
        ("STRING", {"validator": "^[a-z]+$"}, "abc", "abc"),
        ("SECRET", {}, "s3cret", "s3cret"),
        ("INT", {}, "42", 42),
        ("INT", {"min": 1, "max": 50}, 7, 7),
        ("FLOAT", {}, "1.5", 1.5),
        ("FLOAT", {"min": 0.5}, 3, 3.0),
        ("BOOLEAN", {}, "true", True),
        ("BOOLEAN", {}, "TRUE", True),
        ("BOOLEAN", {}, "yes", False),
        ("BOOLEAN", {}, False, False),
        ("DATETIME", {}, "2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        ("DATETIME", {}, "2024-01-02T03:04:05.120+01:00", "2024-01-02T02:04:05.120Z"),
        (
            "DATETIME",
            {"after": "2020-01-01T00:00:00Z"},
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
        ),
        ("DATE", {}, "2024-02-29", "2024-02-29"),
        ("DATE", {"before": "2030-01-01"}, "2024-02-29", "2024-02-29"),
        ("TIME", {}, "18:30", "18:30:00"),
        ("DURATION", {}, "PT300S", "PT5M"),
        ("DURATION", {}, "P1DT1.5S", "PT24H1.5S"),
        ("DURATION", {"min": "PT1S", "max": "PT1H"}, "PT30M", "PT30M"),
        (
            "FILE",
            {},
            "kestra:///a/b/executions/x/inputs/f/data.csv",
            "kestra:///a/b/executions/x/inputs/f/data.csv",
        ),
        (
            "FILE",
            {"allowedFileExtensions": [".csv"]},
            "kestra:///x/data.csv",
            "kestra:///x/data.csv",
        ),
        ("JSON", {}, '{"a": [1, 2]}', {"a": [1, 2]}),
        ("JSON", {}, {"already": "typed"}, {"already": "typed"}),
        ("YAML", {}, "a: 1\nb: [x, y]\n", {"a": 1, "b": ["x", "y"]}),
        ("URI", {}, "https://kestra.io/docs", "https://kestra.io/docs"),
        ("EMAIL", {}, "ada@example.com", "ada@example.com"),
        ("ENUM", {"values": ["A", "B"]}, "B", "B"),
        ("SELECT", {"values": ["A", "B"]}, "A", "A"),
        ("SELECT", {"values": ["A"], "allowCustomValue": True}, "Z", "Z"),
        ("MULTISELECT", {"values": ["A", "B", "C"]}, '["A", "C"]', ["A", "C"]),
        ("MULTISELECT", {"options": ["A", "B"]}, "A,B", ["A", "B"]),
        ("ARRAY", {"itemType": "INT"}, '[1, "2", 3]', [1, 2, 3]),
        ("ARRAY", {"itemType": "STRING"}, ["a", "b"], ["a", "b"]),
        ("ARRAY", {"itemType": "DATE"}, '["2024-01-01"]', ["2024-01-01"]),
    ],
)
def test_every_type_coerces_to_its_json_form(
    kind: str, props: dict[str, Any], raw: Any, expected: Any
) -> None:
    assert one(spec("x", kind, **props), raw) == expected


@pytest.mark.parametrize(
    ("kind", "props", "raw", "fragment"),
    [
        ("STRING", {"validator": "^[a-z]+$"}, "ABC", "must match the pattern"),
        ("INT", {}, "4.5x", "must be an integer"),
        ("INT", {}, True, "must be an integer"),
        ("INT", {"min": 10}, "5", "must be more than `10`"),
        ("INT", {"max": 10}, "11", "must be less than `10`"),
        ("FLOAT", {}, "abc", "must be a number"),
        ("FLOAT", {}, "nan", "finite"),
        ("DATETIME", {}, "yesterday", "ISO-8601 date-time"),
        ("DATETIME", {"before": "2020-01-01T00:00:00Z"}, "2024-01-01T00:00:00Z", "must be before"),
        ("DATE", {}, "2024-13-01", "ISO-8601 date"),
        ("DATE", {"after": "2025-01-01"}, "2024-01-01", "must be after"),
        ("TIME", {}, "25:00", "ISO-8601 time"),
        ("DURATION", {}, "5 minutes", "ISO-8601 duration"),
        ("DURATION", {}, "PT", "ISO-8601 duration"),
        ("DURATION", {"max": "PT1M"}, "PT2M", "must be less than"),
        ("FILE", {}, "/etc/passwd", "uploaded file"),
        ("FILE", {"extension": ".csv"}, "kestra:///x/data.txt", "extension"),
        ("JSON", {}, "{not json", "valid JSON"),
        ("YAML", {}, "a: [1", "valid YAML"),
        ("URI", {}, "not a uri", "valid URI"),
        ("EMAIL", {}, "nobody", "valid email"),
        ("ENUM", {"values": ["A", "B"]}, "C", "must match the values"),
        ("MULTISELECT", {"values": ["A"]}, '["A", "Z"]', "must match the values"),
        ("ARRAY", {"itemType": "INT"}, "1,2", "JSON array"),
        ("ARRAY", {"itemType": "INT"}, '["a"]', "must be an integer"),
        ("ARRAY", {"itemType": "INT"}, '{"a": 1}', "JSON array"),
    ],
)
def test_bad_values_name_the_input(
    kind: str, props: dict[str, Any], raw: Any, fragment: str
) -> None:
    assert fragment in problem(spec("x", kind, **props), raw)


def test_missing_required_input_is_reported() -> None:
    assert problem(spec("name", "STRING"), None) == "missing required input"


def test_empty_form_value_counts_as_missing_except_for_text() -> None:
    assert problem(spec("n", "INT"), "") == "missing required input"
    assert one(spec("s", "STRING"), "") == ""


def test_every_problem_is_reported_at_once() -> None:
    specs = [spec("a", "INT"), spec("b", "STRING"), spec("c", "BOOLEAN")]
    with pytest.raises(InputValuesError) as caught:
        coerce_inputs(specs, {"a": "x"})
    assert [p.input_id for p in caught.value.problems] == ["a", "b", "c"]
    assert "inputs.a:" in str(caught.value)
    assert "inputs.b: missing required input" in str(caught.value)


def test_defaults_apply_and_are_coerced() -> None:
    specs = [spec("n", "INT", defaults="3"), spec("d", "DURATION", defaults="PT60S")]
    assert coerce_inputs(specs, {}) == {"n": 3, "d": "PT1M"}
    assert coerce_inputs(specs, {"n": "9"})["n"] == 9


def test_optional_inputs_without_value_are_null() -> None:
    assert coerce_inputs([spec("o", "STRING", required=False)], {}) == {"o": None}


def test_undeclared_values_are_ignored() -> None:
    assert coerce_inputs([spec("a", "STRING")], {"a": "1", "zzz": "2"}) == {"a": "1"}


def test_dotted_ids_become_nested_maps() -> None:
    specs = [spec("user.name", "STRING"), spec("user.age", "INT"), spec("top", "STRING")]
    values = coerce_inputs(specs, {"user.name": "ada", "user.age": "36", "top": "t"})
    assert values == {"user": {"name": "ada", "age": 36}, "top": "t"}


def test_yaml_falls_back_to_json_without_a_parser() -> None:
    assert coerce_inputs([spec("y", "YAML")], {"y": '{"a": 1}'}) == {"y": {"a": 1}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT5S", timedelta(seconds=5)),
        ("PT1.5S", timedelta(seconds=1.5)),
        ("P2D", timedelta(days=2)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("-PT10S", timedelta(seconds=-10)),
        ("pt1m", timedelta(minutes=1)),
        ("P1Y", None),
        ("PT", None),
        ("P", None),
        ("5S", None),
    ],
)
def test_parse_duration(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (timedelta(hours=26, seconds=3), "PT26H3S"),
        (timedelta(milliseconds=120), "PT0.12S"),
    ],
)
def test_format_duration_is_javas(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


def test_format_instant_is_javas() -> None:
    from datetime import UTC, datetime

    assert format_instant(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert (
        format_instant(datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC))
        == "2024-01-02T03:04:05.120Z"
    )
