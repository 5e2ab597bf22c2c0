"""Glob patterns over ``/``-separated relative paths, as Java's ``glob:`` matcher reads them
(Kestra's ``outputFiles`` and namespace files ``include``/``exclude``).

``*`` and ``?`` stay within one path segment, ``**`` crosses segments (``**.txt`` and
``**/*.txt`` match at any depth, the latter below the top level only), ``{a,b}`` is an
alternation and ``[...]`` a character class (``[!...]`` negated). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The compiled regular expression of one glob ``pattern`` (a leading ``/`` ignored)."""
    text = pattern.strip().lstrip("/")
    out: list[str] = []
    i, depth = 0, 0
    while i < len(text):
        c = text[i]
        if c == "*":
            if text.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        elif c == "[":
            end = text.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = text[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + ")" * depth + r"\Z")


def matches(path: str, patterns: Iterable[str]) -> bool:
    """Whether the relative ``path`` matches any of ``patterns``."""
    return any(glob_regex(p).match(path) is not None for p in patterns)
