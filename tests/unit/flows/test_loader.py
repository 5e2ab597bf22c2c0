"""The strict YAML loader: duplicate keys, marks and Jackson-like scalar typing."""

from __future__ import annotations

import math

import pytest

from lanner.flows.loader import Mark, format_path, load_document, parse_path


def test_duplicate_key_is_reported_with_path_and_both_lines() -> None:
    doc = load_document("a: 1\nb:\n  c: 1\n  c: 2\n")
    [problem] = doc.problems
    assert problem.path == ("b", "c")
    assert problem.mark == Mark(4, 3)
    assert "first defined at line 3" in problem.message
    assert doc.data == {"a": 1, "b": {"c": 1}}


@pytest.mark.parametrize("text", ["yes", "no", "on", "off", "Yes", "2024-01-01", "1:20", "y"])
def test_yaml11_scalars_stay_strings(text: str) -> None:
    assert load_document(f"v: {text}\n").data == {"v": text}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("12", 12),
        ("-3", -3),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ('"12"', "12"),
        ("'true'", "true"),
        ("!!str 5", "5"),
        ("PT1S", "PT1S"),
    ],
)
def test_core_schema_typing(text: str, value: object) -> None:
    assert load_document(f"v: {text}\n").data == {"v": value}


def test_special_floats() -> None:
    data = load_document("a: .inf\nb: -.Inf\nc: .nan\n").data
    assert data["a"] == math.inf
    assert data["b"] == -math.inf
    assert math.isnan(data["c"])


def test_marks_cover_every_path() -> None:
    doc = load_document("tasks:\n  - id: a\n    type: x\n")
    assert doc.marks[("tasks", 0, "type")] == Mark(3, 11)
    assert doc.mark_of(("tasks", 0, "missing")) == Mark(2, 5)


def test_syntax_error_is_one_located_problem() -> None:
    doc = load_document("a: [1, 2\nb: 3\n")
    [problem] = doc.problems
    assert problem.message.startswith("Invalid YAML")
    assert problem.mark is not None


def test_empty_document() -> None:
    doc = load_document("# nothing\n")
    assert doc.data is None
    assert doc.problems == ()


def test_paths_round_trip() -> None:
    path = ("tasks", 1, "then", 0, "type")
    assert format_path(path) == "tasks[1].then[0].type"
    assert parse_path("tasks[1].then[0].type") == path
