"""Java regular expressions read as Kestra reads them (``lanner.regexes``)."""

from __future__ import annotations

import pytest

from lanner.regexes import PatternError, compile_java, full_match, translate


@pytest.mark.parametrize(
    ("pattern", "text", "matched"),
    [
        (r"(?<year>\d{4})-(?<month>\d{2})", "2024-05", True),
        (r"(?<a>x)\k<a>", "xx", True),
        (r"(?<a>x)\k<a>", "xy", False),
        (r"\p{Alpha}+", "Abc", True),
        (r"\p{Alpha}+", "é", False),  # Java's POSIX classes are US-ASCII
        (r"\p{Lower}+", "abc", True),
        (r"\p{Lower}+", "aBc", False),
        (r"\p{Upper}\p{Digit}", "A1", True),
        (r"\p{IsAlpha}", "b", True),
        (r"\P{Digit}+", "ab", True),
        (r"[\p{Lower}\d_]+", "a_1", True),
        (r"\p{Punct}", "~", True),
        (r"\p{XDigit}+", "0aF", True),
        (r"a\h+b", "a \t\u00a0b", True),
        (r"a\h+b", "a\nb", False),
        (r"a\H", "ab", True),
        (r"a\vb", "a\nb", True),
        (r"\Qa.b\E", "a.b", True),
        (r"\Qa.b\E", "axb", False),
        (r"\e", "\x1b", True),
        (r"[]a]+", "]a", True),
        (r"\\h", "\\h", True),
        (r"x*+y", "xxy", True),
        (r"\p{L}+", "été", True),  # Unicode categories stay Unicode
    ],
)
def test_java_syntax(pattern: str, text: str, matched: bool) -> None:
    assert full_match(pattern, text) is matched, translate(pattern)


def test_invalid_pattern_is_a_pattern_error() -> None:
    with pytest.raises(PatternError):
        compile_java("(unclosed")
    with pytest.raises(PatternError):
        compile_java(r"[a\H]")


def test_catastrophic_pattern_times_out() -> None:
    with pytest.raises(TimeoutError):
        full_match(r"(a|aa)+b", "a" * 64, timeout_s=0.05)
