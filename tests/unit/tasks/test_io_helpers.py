"""The pure parts of the storage and HTTP tasks: ION rows, Java's line splitting, Kestra's
split sizes (its ``SplitTest`` figures), ``PathMatcherPredicate`` globs and the
``Content-Disposition`` file name."""

from __future__ import annotations

import pytest

from lanner.storage.ion import IonError, lines, parse_row
from lanner.tasks.core.http import _filename
from lanner.tasks.core.storage import parse_bytes, path_matcher, split_rows
from lanner.tasks.failures import TaskFailure


def test_ion_rows_become_plain_values() -> None:
    row = parse_row(
        '{id:1,name:"foo",x:1.5e0,d:1.20,e:2.0,s:sym,n:null,l:[1,null.int],b:true,'
        "t:2023-01-01T00:00:00Z,bl:{{aGk=}}}"
    )
    assert row == {
        "id": 1, "name": "foo", "x": 1.5, "d": 1.2, "e": 2, "s": "sym", "n": None,
        "l": [1, None], "b": True, "t": "2023-01-01T00:00:00Z", "bl": "aGk=",
    }  # fmt: skip
    with pytest.raises(IonError, match="invalid ION row"):
        parse_row("{id:")


def test_lines_split_like_java_readline() -> None:
    assert list(lines(b"a\r\nb\rc\n\nd\n")) == ["a", "b", "c", "", "d"]
    assert list(lines(b"x\x0cy\nz")) == ["x\x0cy", "z"]  # a form feed is not a line end


def test_split_sizes_match_kestra() -> None:
    rows = [str(i).rjust(20) for i in range(12288)]
    assert len(split_rows(rows, "\n", max_bytes=parse_bytes("1KB"))) == 251
    assert len(split_rows(rows[:1000], "\n", max_rows=10)) == 100
    assert len(split_rows(rows[:1000], "\n", partitions=8)) == 8
    assert (
        b"".join(split_rows(rows[:1000], "\n", max_rows=7))
        == ("\n".join(rows[:1000]) + "\n").encode()
    )
    assert parse_bytes("10mb") == 10 * 1024 * 1024
    with pytest.raises(TaskFailure, match="Invalid size with value 'lots'"):
        parse_bytes("lots")


def test_path_matcher_reads_patterns_as_kestra() -> None:
    assert path_matcher(["**test1.txt"])("a/b/test1.txt")
    assert not path_matcher(["**test1.txt"])("a/b/test2.txt")
    assert path_matcher(["test1.txt"])("a/b/test1.txt")  # word start: any depth
    assert not path_matcher(["*.txt"])("a.txt")  # Java's glob against "/a.txt"
    assert path_matcher(["/*.txt"])("a.txt")
    assert not path_matcher(["/*.txt"])("x/a.txt")
    assert path_matcher(["regex:/a/.*\\.csv"])("a/b.csv")
    assert path_matcher(["glob:**"])("deep/er/file")


def test_content_disposition_file_name() -> None:
    assert _filename('attachment; filename="report.csv"') == "report.csv"
    assert _filename("attachment; filename*=UTF-8''na%20me.csv") == "na me.csv"
    assert _filename('attachment; filename="../../etc/passwd"') == "passwd"
    assert _filename("inline") is None
