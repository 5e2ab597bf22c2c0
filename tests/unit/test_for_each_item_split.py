"""ForEachItem's batching and counting (the engine side is in tests/engine)."""

from __future__ import annotations

import pytest

from lanner.domain.states import StateType
from lanner.engine.for_each_item import iterations_of, parse_size, split_items, terminal_state

LINES = b"a\nbb\nccc\nd\ne\n"


def test_rows_cut_every_n_lines_and_keep_the_rest() -> None:
    assert split_items(LINES, rows=2) == [b"a\nbb\n", b"ccc\nd\n", b"e\n"]
    assert split_items(LINES) == [b"a\n", b"bb\n", b"ccc\n", b"d\n", b"e\n"]  # rows: 1


def test_bytes_fill_batches_up_to_the_size_a_longer_line_alone() -> None:
    assert split_items(LINES, size=5) == [b"a\nbb\n", b"ccc\n", b"d\ne\n"]
    assert split_items(b"long line\nx\n", size=3) == [b"long line\n", b"x\n"]


def test_partitions_deal_lines_in_turn_and_drop_empty_ones() -> None:
    assert split_items(LINES, partitions=2) == [b"a\nccc\ne\n", b"bb\nd\n"]
    assert split_items(b"only\n", partitions=3) == [b"only\n"]


def test_an_empty_file_gives_no_batch_and_a_custom_separator_is_kept() -> None:
    assert split_items(b"", rows=4) == []
    assert split_items(b"1;2;3", rows=2, separator=";") == [b"1;2;", b"3;"]


def test_bad_batch_values_are_refused() -> None:
    with pytest.raises(ValueError, match=r"batch\.rows: must be greater than 0"):
        split_items(LINES, rows=0)
    with pytest.raises(ValueError, match=r"batch\.partitions"):
        split_items(LINES, partitions=0)
    with pytest.raises(ValueError, match=r"batch\.bytes: invalid size `ten`"):
        parse_size("ten")
    assert parse_size("10KB") == 10 * 1024
    assert parse_size("512") == 512


def test_iterations_count_children_by_state_and_transmit_failures() -> None:
    ended = {"e1": "SUCCESS", "e2": "FAILED"}
    assert iterations_of(3, ended) == {"CREATED": 0, "RUNNING": 1, "SUCCESS": 1, "FAILED": 1}
    assert terminal_state(ended, transmit_failed=True) is StateType.FAILED
    assert terminal_state(ended, transmit_failed=False) is StateType.SUCCESS
    assert terminal_state({"e": "SUCCESS"}, transmit_failed=True) is StateType.SUCCESS
