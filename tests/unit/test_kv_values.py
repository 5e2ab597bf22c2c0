"""KV values: key rules, type inference, and the Ion-ish text of ``PUT …/kv/{key}``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from lanner.domain.kv import (
    InvalidKVValue,
    KVType,
    KVValue,
    check_key,
    convert_value,
    infer_value,
    parse_literal,
)

T = KVType


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('"text"', KVValue(T.STRING, "text")),
        ("1", KVValue(T.NUMBER, 1)),
        ("1.5", KVValue(T.NUMBER, 1.5)),
        ("true", KVValue(T.BOOLEAN, True)),
        ('{"a": [1, {"b": null}]}', KVValue(T.JSON, {"a": [1, {"b": None}]})),
        ("[1, 2]", KVValue(T.JSON, [1, 2])),
        ("2021-09-01", KVValue(T.DATE, "2021-09-01")),
        ("2021-09-01T01:02:03Z", KVValue(T.DATETIME, "2021-09-01T01:02:03Z")),
        ("2021-09-01T03:02:03.5+02:00", KVValue(T.DATETIME, "2021-09-01T01:02:03.500Z")),
        ('"PT5S"', KVValue(T.DURATION, "PT5S")),
        ('"P1DT2H"', KVValue(T.DURATION, "PT26H")),
        ("hello", KVValue(T.STRING, "hello")),
        ('  "spaced"  \n', KVValue(T.STRING, "spaced")),
    ],
)
def test_parse_literal(body: str, expected: KVValue) -> None:
    assert parse_literal(body) == expected


@pytest.mark.parametrize("body", ["", "null", "{broken", "two words", "2021-13-45"])
def test_unparseable_literals_are_refused(body: str) -> None:
    with pytest.raises(InvalidKVValue):
        parse_literal(body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PT5S", KVValue(T.STRING, "PT5S")),  # a task's string is a string
        (False, KVValue(T.BOOLEAN, False)),
        (3, KVValue(T.NUMBER, 3)),
        ({"k": (1, 2)}, KVValue(T.JSON, {"k": [1, 2]})),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), KVValue(T.DATETIME, "2024-01-02T03:04:05Z")),
        (date(2024, 1, 2), KVValue(T.DATE, "2024-01-02")),
        (timedelta(minutes=90), KVValue(T.DURATION, "PT1H30M")),
    ],
)
def test_infer_value(value: Any, expected: KVValue) -> None:
    assert infer_value(value) == expected


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("42", T.NUMBER, 42),
        ("4.5", T.NUMBER, 4.5),
        ("TRUE", T.BOOLEAN, True),
        ('{"a": 1}', T.JSON, {"a": 1}),
        ({"a": 1, "b": [1, 2]}, T.STRING, '{"a":1,"b":[1,2]}'),  # compact, as Kestra writes it
        ({"é": ["ü"]}, T.STRING, '{"é":["ü"]}'),
        ("2024-05-06T07:08:09Z", T.DATETIME, "2024-05-06T07:08:09Z"),
        ("PT1M", T.DURATION, "PT1M"),
        ("2024-05-06", T.DATE, "2024-05-06"),
    ],
)
def test_convert_value(value: Any, kind: KVType, expected: Any) -> None:
    assert convert_value(value, kind) == KVValue(kind, expected)


@pytest.mark.parametrize(("value", "kind"), [("x", T.NUMBER), ("soon", T.DURATION)])
def test_convert_value_refuses_mismatches(value: Any, kind: KVType) -> None:
    with pytest.raises(InvalidKVValue):
        convert_value(value, kind)


@pytest.mark.parametrize("key", ["a", "my_key.v-2", "0x"])
def test_valid_keys(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "-a", ".a", "a b", "a/b", "é"])
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidKVValue):
        check_key(key)


def test_null_and_odd_values_are_refused() -> None:
    for value in (None, float("nan"), object()):
        with pytest.raises(InvalidKVValue):
            infer_value(value)
