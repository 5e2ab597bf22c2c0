"""ForEach ``values`` as the strings Kestra hands each iteration."""

from __future__ import annotations

from lanner.engine.jobs import loop_values


def test_objects_are_compact_json_with_non_ascii_kept() -> None:
    assert loop_values(["é", {"name": "café", "n": [1, 2]}, 3]) == [
        "é",
        '{"name":"café","n":[1,2]}',
        "3",
    ]


def test_a_json_array_in_a_string_is_read_first() -> None:
    assert loop_values('[{"k": "ü"}, "x"]') == ['{"k":"ü"}', "x"]
