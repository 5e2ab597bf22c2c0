"""Filters over lists and maps, the data-format filters, and Pebble's tests.

Pebble built-ins: ``default``, ``length``, ``first``, ``last``, ``join``, ``sort``, ``rsort``,
``reverse``, ``slice``, ``merge``, ``abs``, ``raw``; Kestra's: ``keys``, ``values``,
``chunk``, ``flatten``, ``distinct``, ``number``, ``jq``, ``toJson``/``json``, ``toIon``,
``yaml``, ``string``. Tests: ``defined``, ``null``, ``empty``, ``even``, ``odd``,
``iterable``, ``map``, ``json``. Imports only the standard library, jq, yaml, orjson and
this package.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Set
from decimal import Decimal, InvalidOperation
from typing import Any

import jq
import orjson
import yaml

from .errors import TemplateRenderError
from .printing import Entry, java_double, java_string, output_string, to_json


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple | Set)


def default(value: Any, default: Any = None) -> Any:
    return default if is_empty(value) else value


def length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | Mapping) or _is_list(value):
        return len(value)
    return 0


def first(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value[0] if value else None
    items = list(value)
    return items[0] if items else None


def last(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value[-1] if value else None
    items = list(value)
    return items[-1] if items else None


def join(value: Any, separator: Any = None) -> Any:
    if value is None:
        return None
    if not _is_list(value):
        raise TemplateRenderError("The 'join' filter expects a collection or an array.")
    return ("" if separator is None else str(separator)).join(java_string(i) for i in value)


def _sortable(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise TemplateRenderError(f"Unsupported input type for {name} filter")
    try:
        return sorted(value)
    except TypeError as error:
        raise TemplateRenderError(f"cannot {name} mixed values: {error}") from error


def sort(value: Any) -> Any:
    return None if value is None else _sortable(value, "sort")


def rsort(value: Any) -> Any:
    return None if value is None else _sortable(value, "rsort")[::-1]


def reverse(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value[::-1]
    return list(value)[::-1]


def slice_(value: Any, fromIndex: Any = 0, toIndex: Any = None) -> Any:
    if value is None:
        return None
    if not isinstance(value, str | list | tuple):
        raise TemplateRenderError("Slice filter can only be applied to String, List and array")
    start = 0 if fromIndex is None else fromIndex
    end = len(value) if toIndex is None else toIndex
    if not isinstance(start, int) or not isinstance(end, int) or start < 0:
        raise TemplateRenderError("slice indexes must be non-negative numbers")
    if end > len(value):
        raise TemplateRenderError(f"toIndex must be smaller than input size: {len(value)}")
    if toIndex is not None and start >= end:
        raise TemplateRenderError("toIndex must be greater than fromIndex")
    return value[start:end] if isinstance(value, str) else list(value[start:end])


def merge(value: Any, items: Any = None) -> Any:
    if value is None or items is None:
        if value is None and items is None:
            raise TemplateRenderError("The two arguments to be merged are null")
        return items if value is None else value
    if isinstance(value, Mapping):
        if isinstance(items, Mapping):
            return {**value, **items}
        if _is_list(items):
            return {**value, **{item: item for item in items}}
    elif _is_list(value):
        if isinstance(items, Mapping):
            return [*value, *(Entry(k, v) for k, v in items.items())]
        if _is_list(items):
            return [*value, *items]
    raise TemplateRenderError("only Maps and Lists can be merged")


def abs_(value: Any) -> Any:
    if value is None:
        raise TemplateRenderError('Can not pass null value to "abs" filter.')
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TemplateRenderError("The 'abs' filter does require as input a number.")
    return abs(value)


def raw(value: Any) -> Any:
    return value


def keys(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.keys())
    if isinstance(value, list | tuple):
        return list(range(len(value)))
    raise TemplateRenderError("'keys' filter can only be applied to List, Map, Array.")


def values(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.values())
    raise TemplateRenderError("'values' filter can only be applied to Map.")


def chunk(value: Any, size: Any = None) -> Any:
    if value is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise TemplateRenderError("'chunk' filter expects a positive argument 'size'.")
    if not isinstance(value, list | tuple):
        raise TemplateRenderError("'chunk' filter can only be applied to List.")
    return [list(value[i : i + size]) for i in range(0, len(value), size)]


def flatten(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise TemplateRenderError("The 'flatten' filter can only be applied to lists.")
    out: list[Any] = []
    for item in value:
        out.extend(item) if isinstance(item, list | tuple) else out.append(item)
    return out


def distinct(value: Any) -> Any:
    if value is None:
        return None
    if not _is_list(value):
        raise TemplateRenderError("The 'distinct' filter can only be applied to lists.")
    out: list[Any] = []
    for item in value:
        if item not in out:
            out.append(item)
    return out


_INT_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)[lL]?")


def number(value: Any, type: Any = None) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TemplateRenderError("'number' filter can only be applied to String.")
    text = value.strip()
    try:
        if type in ("INT", "LONG", "BIGINTEGER") or (type is None and _INT_RE.fullmatch(text)):
            return (
                int(text.rstrip("lL"), 0)
                if text.lower().startswith(("0x", "-0x"))
                else int(text.rstrip("lL"))
            )
        if type == "BIGDECIMAL":
            return Decimal(text)
        return float(text.rstrip("fFdD"))
    except (ValueError, InvalidOperation) as error:
        raise TemplateRenderError(f"'{value}' is not a valid number") from error


#: Compiled jq programs kept; compiling costs about a millisecond, a cached run microseconds.
JQ_PROGRAM_CACHE_SIZE = 256


@functools.lru_cache(maxsize=JQ_PROGRAM_CACHE_SIZE)
def _jq_program(expression: str) -> Any:
    """The compiled program, shared between threads (jq keeps a pool of interpreter states)."""
    return jq.compile(expression)


def jq_filter(value: Any, expression: Any = None) -> Any:
    if value is None:
        return None
    if expression is None:
        raise TemplateRenderError("The 'jq' filter expects an argument 'expression'.")
    text = value if isinstance(value, str) else to_json(value)
    try:
        return list(_jq_program(str(expression)).input_text(text).all())
    except ValueError as error:
        raise TemplateRenderError(
            f"Failed to resolve JQ expression '{expression}': {error}"
        ) from error


def to_json_filter(value: Any) -> str:
    return "null" if value is None else to_json(value)


def _ion(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = java_double(value).replace("E", "e")
        return text if "e" in text else text + "e0"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_ion_key(k)}:{_ion(v)}" for k, v in value.items()) + "}"
    if _is_list(value):
        return "[" + ",".join(_ion(item) for item in value) + "]"
    return orjson.dumps(output_string(value)).decode()


def _ion_key(key: Any) -> str:
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", text) else orjson.dumps(text).decode()


def to_ion(value: Any) -> str:
    return _ion(value)


class _YamlDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if _is_list(value):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return output_string(value)


def to_yaml(value: Any) -> str:
    if value is None:
        return "null"
    text = yaml.dump(
        _plain(value),
        Dumper=_YamlDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=math.inf,
    )
    text = text.removesuffix("...\n")
    if _is_list(value):
        text = "".join(" " + line + "\n" for line in text.splitlines())
    return str(text)


def string(value: Any) -> Any:
    return None if value is None else output_string(value)


# -- tests -------------------------------------------------------------------------------


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, Mapping) or _is_list(value):
        return len(value) == 0
    return False


def _integer(value: Any, test: str) -> int:
    if value is None:
        raise TemplateRenderError(f'Can not pass null value to "{test}" test.')
    if isinstance(value, bool) or not isinstance(value, int):
        raise TemplateRenderError(f'"{test}" test expects an integer')
    return value


def is_json(value: Any) -> bool:
    try:
        orjson.loads(value)
    except (orjson.JSONDecodeError, TypeError):
        return False
    return True


SEQUENCE_FILTERS: dict[str, Callable[..., Any]] = {
    "default": default,
    "length": length,
    "first": first,
    "last": last,
    "join": join,
    "sort": sort,
    "rsort": rsort,
    "reverse": reverse,
    "slice": slice_,
    "merge": merge,
    "abs": abs_,
    "raw": raw,
    "keys": keys,
    "values": values,
    "chunk": chunk,
    "flatten": flatten,
    "distinct": distinct,
    "number": number,
    "jq": jq_filter,
    "toJson": to_json_filter,
    "json": to_json_filter,
    "toIon": to_ion,
    "yaml": to_yaml,
    "string": string,
}

TESTS: dict[str, Callable[..., bool]] = {
    "defined": lambda value: value is not None,
    "null": lambda value: value is None,
    "empty": is_empty,
    "even": lambda value: _integer(value, "even") % 2 == 0,
    "odd": lambda value: _integer(value, "odd") % 2 == 1,
    "iterable": lambda value: _is_list(value),
    "map": lambda value: isinstance(value, Mapping),
    "json": is_json,
}
