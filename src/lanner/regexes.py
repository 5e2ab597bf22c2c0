"""Java regular expressions, as Kestra's validators and ``regex*`` functions read them.

Compiled with the ``regex`` module, which takes most of Java's syntax as it is (``(?<name>...)``,
possessive quantifiers, atomic groups, ``\\R``, ``\\z``); the rest is translated first: Java's
ASCII-only POSIX classes (``\\p{Alpha}``, ``\\p{Lower}``...), ``\\h``/``\\v`` (horizontal and
vertical whitespace), ``\\k<name>``, ``\\Q...\\E`` quoting and ``\\e``. Matching a value
someone sent takes a ``timeout`` so a catastrophic pattern cannot hold a thread (ReDoS).

Imports nothing of Lanner: the ground floor beside ``domain/``, usable by every floor.
"""

from __future__ import annotations

import functools
from typing import Any

import regex

Pattern = regex.Pattern
PatternError = regex.error
#: How long one match of a submitted value against a flow's pattern may take.
MATCH_TIMEOUT_S = 0.5

_PUNCT = r"!-/:-@\[-`{-~"
_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": r"\x00-\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": _PUNCT,
    "Graph": "a-zA-Z0-9" + _PUNCT,
    "Print": r"\x20a-zA-Z0-9" + _PUNCT,
    "Blank": r" \t",
    "Cntrl": r"\x00-\x1F\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0B\f\r",
    "javaLowerCase": r"\p{Lowercase}",
    "javaUpperCase": r"\p{Uppercase}",
    "javaWhitespace": r"\t-\r\x1C-\x1F\p{Zs}\p{Zl}\p{Zp}",
    "javaAlphabetic": r"\p{Alphabetic}",
    "javaDigit": r"\p{Nd}",
}
_HORIZONTAL = r" \t\xA0\u1680\u180E\u2000-\u200A\u202F\u205F\u3000"
_VERTICAL = r"\n\x0B\f\r\x85\u2028\u2029"
_SETS = {"h": _HORIZONTAL, "v": _VERTICAL}


def translate(pattern: str) -> str:
    """Java's syntax rewritten where ``regex`` reads it differently or not at all."""
    out: list[str] = []
    in_class = False
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(regex.escape(literal, special_only=True))
                i = n if end < 0 else end + 2
                continue
            if nxt in "pP" and i + 2 < n and pattern[i + 2] == "{":
                close = pattern.find("}", i + 3)
                name = pattern[i + 3 : close] if close > 0 else ""
                if name.removeprefix("Is") in _POSIX:
                    out.append(_set(_POSIX[name.removeprefix("Is")], nxt == "P", in_class))
                    i = close + 1
                    continue
            elif nxt in "hHvV":
                out.append(_set(_SETS[nxt.lower()], nxt.isupper(), in_class))
                i += 2
                continue
            elif nxt == "e":
                out.append(r"\x1B")
                i += 2
                continue
            elif nxt == "k" and not in_class and i + 2 < n and pattern[i + 2] == "<":
                close = pattern.find(">", i + 3)
                if close > 0:
                    out.append(f"(?P={pattern[i + 3 : close]})")
                    i = close + 1
                    continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            i += 1
            # a leading "]" (or "^]") is a literal in Java as in Python
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append(r"\]")
                i += 1
            continue
        if char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def _set(members: str, negated: bool, in_class: bool) -> str:
    if not in_class:
        return f"[{'^' if negated else ''}{members}]"
    if negated:  # inside a class this needs nested sets, which regex's V0 syntax lacks
        raise PatternError("a negated \\P{...}, \\H or \\V inside [...] is not supported")
    return members


@functools.lru_cache(maxsize=512)
def compile_java(pattern: str) -> Pattern[str]:
    """The compiled pattern; raises :data:`PatternError` when Java's syntax is not met."""
    return regex.compile(translate(pattern))


def full_match(pattern: Any, text: str, *, timeout_s: float = MATCH_TIMEOUT_S) -> bool:
    """Whether ``text`` matches all of ``pattern``; raises ``TimeoutError`` past ``timeout_s``."""
    return compile_java(str(pattern)).fullmatch(text, timeout=timeout_s) is not None
