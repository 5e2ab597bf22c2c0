"""Text filters: Pebble's built-ins (``upper``, ``title``, ``split``, ``urlencode``,
``numberformat``...) and Kestra's (``replace``, ``substring*``, ``slugify``, ``escapeChar``,
``indent``, hashes, ``regex*``).

Java semantics kept where they show: ``split`` takes a regular expression and drops trailing
empty strings, ``urlencode`` is ``URLEncoder`` (space as ``+``, ``~`` encoded), regex
replacements use ``$1``. Imports only the standard library, this package and
:mod:`lanner.regexes`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from lanner.regexes import Pattern, PatternError, compile_java

from .errors import TemplateRenderError
from .operators import MAX_STRING_CHARS
from .printing import java_string

_JAVA_GROUP_REF = re.compile(r"\\\$|\$(\d+|\{(\w+)\})")


def java_regex(pattern: Any) -> Pattern[str]:
    """Compile a Java regular expression (:mod:`lanner.regexes`)."""
    try:
        return compile_java(str(pattern))
    except PatternError as error:
        raise TemplateRenderError(f"Invalid regex '{pattern}': {error}") from error


def _java_replacement(replacement: str) -> str:
    def convert(match: re.Match[str]) -> str:
        if match.group(0) == "\\$":
            return "$"
        return "\\g<" + (match.group(2) or match.group(1)) + ">"

    escaped = replacement.replace("\\", "\\\\").replace("\\\\$", "\\$")
    return _JAVA_GROUP_REF.sub(convert, escaped)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else java_string(value)


def _each_string(value: Any, transform: Any) -> Any:
    """Apply ``transform`` to a string, or to every leaf of a map or list (Kestra's way)."""
    if isinstance(value, Mapping):
        return {key: _each_string(item, transform) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_each_string(item, transform) for item in value]
    return transform(_text(value))


def upper(value: Any) -> Any:
    return None if value is None else _text(value).upper()


def lower(value: Any) -> Any:
    return None if value is None else _text(value).lower()


def title(value: Any) -> Any:
    if value is None:
        return None
    out, capitalize_next = [], True
    for char in _text(value):
        if char.isspace():
            capitalize_next = True
        elif capitalize_next:
            char, capitalize_next = char.upper(), False
        out.append(char)
    return "".join(out)


def capitalize(value: Any) -> Any:
    if value is None:
        return None
    text = _text(value)
    stripped = text.lstrip()
    if not stripped:
        return text
    lead = len(text) - len(stripped)
    return text[:lead] + stripped[0].upper() + stripped[1:]


def trim(value: Any) -> Any:
    return None if value is None else _text(value).strip(" \t\n\r\x0b\x0c\x00")


def replace(value: Any, replace_pairs: Any = None, regexp: Any = False) -> Any:
    if value is None:
        return None
    if not isinstance(replace_pairs, Mapping):
        raise TemplateRenderError("The argument 'replace_pairs' is required.")

    def apply(text: str) -> str:
        for key, target in replace_pairs.items():
            if regexp:
                text = java_regex(key).sub(_java_replacement(_text(target)), text)
            else:
                old, new = _text(key), _text(target)
                if len(new) > len(old):
                    growth = text.count(old) * (len(new) - len(old))
                    if len(text) + growth > MAX_STRING_CHARS:
                        raise TemplateRenderError(
                            f"'replace' would make a string longer than {MAX_STRING_CHARS}"
                        )
                text = text.replace(old, new)
        return text

    return _each_string(value, apply)


def starts_with(value: Any, value_: Any = None, **kwargs: Any) -> bool:
    prefix = kwargs.get("value", value_)
    return _text(value).startswith(_text(prefix))


def ends_with(value: Any, value_: Any = None, **kwargs: Any) -> bool:
    suffix = kwargs.get("value", value_)
    return _text(value).endswith(_text(suffix))


def substring_before(value: Any, separator: Any = None) -> Any:
    if value is None:
        return None
    text, sep = _text(value), _text(separator)
    if not text or separator is None:
        return text
    index = text.find(sep)
    return text if index < 0 else text[:index]


def substring_after(value: Any, separator: Any = None) -> Any:
    if value is None:
        return None
    text = _text(value)
    if not text:
        return text
    if separator is None:
        return ""
    index = text.find(_text(separator))
    return "" if index < 0 else text[index + len(_text(separator)) :]


def substring_before_last(value: Any, separator: Any = None) -> Any:
    if value is None:
        return None
    text, sep = _text(value), "" if separator is None else _text(separator)
    if not text or not sep:
        return text
    index = text.rfind(sep)
    return text if index < 0 else text[:index]


def substring_after_last(value: Any, separator: Any = None) -> Any:
    if value is None:
        return None
    text, sep = _text(value), "" if separator is None else _text(separator)
    if not text or not sep:
        return "" if text else text
    index = text.rfind(sep)
    return "" if index < 0 or index == len(text) - len(sep) else text[index + len(sep) :]


def slugify(value: Any) -> Any:
    if value is None:
        return None
    text = unicodedata.normalize("NFKD", _text(value))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


_ESCAPES = {"single": ("'", "\\'"), "double": ('"', '\\"'), "shell": ("'", "'\\''")}


def escape_char(value: Any, type: Any = None) -> Any:
    if value is None:
        return None
    kind = str(type).lower() if type is not None else None
    if kind not in _ESCAPES:
        raise TemplateRenderError(
            "The 'escapeChar' filter expects the value of 'type' to be either "
            "'single', 'double', or 'shell'."
        )
    original, replacement = _ESCAPES[kind]
    return _each_string(value, lambda text: text.replace(original, replacement))


def urlencode(value: Any) -> Any:
    return None if value is None else quote_plus(_text(value), safe="*").replace("~", "%7E")


def urldecode(value: Any) -> Any:
    return None if value is None else unquote_plus(_text(value))


def _hasher(algorithm: str) -> Any:
    def digest(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise TemplateRenderError("Need a string to hash")
        return hashlib.new(algorithm, value.encode()).hexdigest()

    return digest


def base64encode(value: Any) -> Any:
    return None if value is None else base64.b64encode(_text(value).encode()).decode()


def base64decode(value: Any) -> Any:
    if value is None:
        return None
    try:
        return base64.b64decode(_text(value), validate=True).decode()
    except ValueError as error:
        raise TemplateRenderError(f"invalid base64: {error}") from error


def _line_separator(text: str) -> str:
    for separator in ("\r\n", "\n\r", "\n", "\r"):
        if separator in text:
            return separator
    return "\n"


def _indent(value: Any, amount: Any, prefix: Any, name: str, leading: bool) -> Any:
    if value is None:
        return None
    text = _text(value)
    if text == "":
        return text
    if not isinstance(amount, int) or amount < 0:
        raise TemplateRenderError(f"The '{name}' filter expects a positive integer 'amount'.")
    newline = _line_separator(text)
    if len(_text(prefix)) * amount * (text.count(newline) + 1) + len(text) > MAX_STRING_CHARS:
        raise TemplateRenderError(f"'{name}' would make a string longer than {MAX_STRING_CHARS}")
    pad = _text(prefix) * amount
    return ((newline if leading else "") + text).replace(newline, newline + pad)


def indent(value: Any, amount: Any = None, prefix: Any = " ") -> Any:
    return _indent(value, amount, prefix, "indent", leading=False)


def nindent(value: Any, amount: Any = None, prefix: Any = " ") -> Any:
    return _indent(value, amount, prefix, "nindent", leading=True)


def split(value: Any, delimiter: Any = None, limit: Any = None) -> Any:
    if value is None:
        return None
    if delimiter is None:
        raise TemplateRenderError("missing delimiter parameter in split filter")
    text, regex = _text(value), java_regex(delimiter)
    if limit is not None and limit > 0:
        parts = regex.split(text, maxsplit=limit - 1)
    else:
        parts = regex.split(text)
        if limit is None or limit == 0:
            while parts and parts[-1] == "":
                parts.pop()
    return parts if text else [""]


def regex_match(value: Any, regex: Any = None) -> bool:
    return value is not None and java_regex(regex).search(_text(value)) is not None


def regex_extract(value: Any, regex: Any = None, group: Any = 0) -> Any:
    if value is None:
        return None
    match = java_regex(regex).search(_text(value))
    if match is None:
        return None
    if not isinstance(group, int) or group < 0 or group > (match.re.groups):
        raise TemplateRenderError(f"Group index {group} is out of bounds")
    return match.group(group)


def regex_replace(value: Any, regex: Any = None, replacement: Any = "") -> Any:
    if value is None:
        return None
    return java_regex(regex).sub(_java_replacement(_text(replacement)), _text(value))


_DECIMAL_PATTERN = re.compile(r"(?P<pre>[^#0,.]*)(?P<int>[#0,]*)(?:\.(?P<frac>[#0]*))?(?P<suf>.*)")


def _decimal_format(number: Decimal, pattern: str) -> str:
    """Java's ``DecimalFormat`` for the usual patterns (``#,##0.00``, ``#.##``, ``0.000``)."""
    match = _DECIMAL_PATTERN.fullmatch(pattern.split(";")[0])
    if match is None:
        raise TemplateRenderError(f'Malformed pattern "{pattern}"')
    integer, fraction = match["int"], match["frac"] or ""
    min_int = integer.count("0")
    group = len(integer) - integer.rfind(",") - 1 if "," in integer else 0
    min_frac, max_frac = fraction.count("0"), len(fraction)
    rounded = number.quantize(Decimal(1).scaleb(-max_frac), rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    whole, _, part = f"{abs(rounded):f}".partition(".")
    whole = whole.lstrip("0").rjust(min_int, "0")
    if group and len(whole) > group:
        head, rest = len(whole) % group or group, whole
        whole = ",".join(
            [rest[:head]] + [rest[i : i + group] for i in range(head, len(rest), group)]
        )
    part = part.rstrip("0").ljust(min_frac, "0")
    if not whole and not part:
        whole = "0"
    return f"{sign}{match['pre']}{whole}{'.' + part if part else ''}{match['suf']}"


def numberformat(value: Any, format: Any = None) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TemplateRenderError("The input for the 'NumberFormat' filter has to be a number.")
    return _decimal_format(Decimal(str(value)), "#,##0.###" if format is None else str(format))


TEXT_FILTERS = {
    "upper": upper,
    "lower": lower,
    "title": title,
    "capitalize": capitalize,
    "trim": trim,
    "replace": replace,
    "startsWith": starts_with,
    "endsWith": ends_with,
    "substringBefore": substring_before,
    "substringAfter": substring_after,
    "substringBeforeLast": substring_before_last,
    "substringAfterLast": substring_after_last,
    "slugify": slugify,
    "escapeChar": escape_char,
    "urlencode": urlencode,
    "urldecode": urldecode,
    "md5": _hasher("md5"),
    "sha1": _hasher("sha1"),
    "sha256": _hasher("sha256"),
    "sha512": _hasher("sha512"),
    "base64encode": base64encode,
    "base64decode": base64decode,
    "indent": indent,
    "nindent": nindent,
    "split": split,
    "regexMatch": regex_match,
    "regexExtract": regex_extract,
    "regexReplace": regex_replace,
    "numberformat": numberformat,
    "numberFormat": numberformat,
}
