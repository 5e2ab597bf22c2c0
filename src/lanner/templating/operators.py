"""Pebble's operator semantics, called from the compiled templates.

Java habits kept: integer division and remainder truncate toward zero, ``+`` concatenates when
either side is a string, comparisons are numeric only and false against ``null``, ``==`` is
type-sensitive except between numbers, ``~`` uses Java's ``toString``, ``if`` accepts only
booleans, numbers and strings (``null`` is an error). The compiled code reaches these through
``environment.pebble`` (this module). Imports only the standard library, jinja2 and this package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Set
from decimal import Decimal
from typing import Any

from jinja2.exceptions import UndefinedError

from .errors import TemplateRenderError
from .printing import Entry, java_string

MAX_STRING_CHARS = 1_000_000
MAX_INT_BITS = 1024
"""Integers past this (Pebble's are 64-bit longs) are refused: repeated products stay small."""


class PebbleUndefined(UndefinedError):
    """A variable or attribute is missing (Pebble's ``AttributeNotFoundException``)."""

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(message or f"Unable to find `{name}`")
        self.name = name


def _number(value: Any, operation: str) -> int | float | Decimal:
    if isinstance(value, bool) or value is None:
        raise TemplateRenderError(f"cannot use {java_string(value)} as a number in {operation}")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    raise TemplateRenderError(f"cannot use {java_string(value)!r} as a number in {operation}")


def _arith(left: Any, right: Any, operation: str) -> Any:
    a: Any = _number(left, operation)
    b: Any = _number(right, operation)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        a, b = Decimal(str(a)), Decimal(str(b))
    elif isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
    if operation == "+":
        return a + b
    if operation == "-":
        return a - b
    if operation == "*":
        product = a * b
        if isinstance(product, int) and product.bit_length() > MAX_INT_BITS:
            raise TemplateRenderError(f"number out of range: over {MAX_INT_BITS} bits in *")
        return product
    if isinstance(a, int) and isinstance(b, int):
        if b == 0:
            raise TemplateRenderError("/ by zero")
        quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        return quotient if operation == "/" else a - b * quotient
    if isinstance(a, float) and b == 0:
        if operation == "%":
            return math.nan
        return math.nan if a == 0 else math.copysign(math.inf, a) * math.copysign(1.0, b)
    if operation == "/":
        return a / b
    return math.fmod(a, b) if isinstance(a, float) else a % b


def add(left: Any, right: Any) -> Any:
    if isinstance(left, str) or isinstance(right, str):
        return concat_checked(java_string(left), java_string(right))
    if isinstance(left, list):
        return [*left, *right] if isinstance(right, list | tuple) else [*left, right]
    return _arith(left, right, "+")


def sub(left: Any, right: Any) -> Any:
    if isinstance(left, list):
        drop = list(right) if isinstance(right, list | tuple) else [right]
        return [item for item in left if item not in drop]
    return _arith(left, right, "-")


def mul(left: Any, right: Any) -> Any:
    return _arith(left, right, "*")


def div(left: Any, right: Any) -> Any:
    return _arith(left, right, "/")


def mod(left: Any, right: Any) -> Any:
    return _arith(left, right, "%")


def neg(value: Any) -> Any:
    return _arith(-1, value, "*")


def pos(value: Any) -> Any:
    return _arith(1, value, "*")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def eq(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def ne(left: Any, right: Any) -> bool:
    return not eq(left, right)


def _compare(left: Any, right: Any, symbol: str) -> tuple[Any, Any] | None:
    if left is None or right is None:
        return None
    if not (_is_number(left) and _is_number(right)):
        raise TemplateRenderError(
            f"invalid operands for mathematical comparison [{symbol}]: "
            f"{java_string(left)} and {java_string(right)}"
        )
    return left, right


def lt(left: Any, right: Any) -> bool:
    pair = _compare(left, right, "<")
    return pair is not None and bool(pair[0] < pair[1])


def le(left: Any, right: Any) -> bool:
    pair = _compare(left, right, "<=")
    return pair is not None and bool(pair[0] <= pair[1])


def gt(left: Any, right: Any) -> bool:
    pair = _compare(left, right, ">")
    return pair is not None and bool(pair[0] > pair[1])


def ge(left: Any, right: Any) -> bool:
    pair = _compare(left, right, ">=")
    return pair is not None and bool(pair[0] >= pair[1])


def contains(left: Any, right: Any) -> bool:
    if left is None:
        return False
    if isinstance(left, Mapping):
        return right in left
    if isinstance(left, str):
        return java_string(right) in left
    if isinstance(left, list | tuple | Set):
        if isinstance(right, list | tuple | Set):
            return all(item in left for item in right)
        return right in left
    raise TemplateRenderError(
        "Contains operator can only be used on Collections, Maps and arrays. "
        f"Actual type was: {type(left).__name__}"
    )


def concat_checked(left: str, right: str) -> str:
    if len(left) + len(right) > MAX_STRING_CHARS:
        raise TemplateRenderError(f"string longer than {MAX_STRING_CHARS} characters")
    return left + right


def concat(left: Any, right: Any) -> str:
    return concat_checked(
        "" if left is None else java_string(left), "" if right is None else java_string(right)
    )


def truth(value: Any) -> bool:
    """Truth of an ``if``/``and``/``or``/``not`` operand: booleans, numbers, strings only."""
    if value is True or value is False:
        return value
    if value is None:
        raise TemplateRenderError("null value given to a condition and strict variables are on")
    if _is_number(value):
        return not (value != value) and value != 0
    if isinstance(value, str):
        return value != ""
    raise TemplateRenderError(
        f"Unsupported value type {type(value).__name__}. Expected Boolean, String, Number"
    )


def ternary_truth(value: Any) -> bool:
    """Truth of a ternary condition: like ``if``, but ``null`` is false."""
    return value is not None and truth(value)


def not_(value: Any) -> bool:
    return not truth(value)


def attempt(thunk: Callable[[], Any]) -> Any:
    """Evaluate ``thunk``; a missing variable gives ``None`` (``is defined``, ``default``)."""
    try:
        return thunk()
    except UndefinedError:
        return None


def coalesce(left: Callable[[], Any], right: Callable[[], Any], undefined_only: bool) -> Any:
    """``??`` (null or undefined) and ``???`` (undefined only), right side lazily."""
    try:
        value = left()
    except UndefinedError:
        return right()
    if value is None and not undefined_only:
        return right()
    return value


def entries(value: Any) -> list[Any] | tuple[Any, ...]:
    """What a ``for`` loop iterates: lists as they are, maps as entries, ``null`` as nothing."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return [Entry(key, item) for key, item in value.items()]
    if isinstance(value, list | tuple):
        return value
    if isinstance(value, Set):
        return list(value)
    if isinstance(value, str):
        raise TemplateRenderError("cannot iterate over a string")
    raise TemplateRenderError(f"cannot iterate over {type(value).__name__}")


def range_(start: Any, end: Any, step: Any = 1, limit: int = 10_000) -> list[Any]:
    """Pebble's ``range``/``..``: inclusive, on integers or single characters."""
    chars = isinstance(start, str) and isinstance(end, str) and len(start) == len(end) == 1
    low = ord(start) if chars else _number(start, "range")
    high = ord(end) if chars else _number(end, "range")
    if not isinstance(low, int) or not isinstance(high, int) or not isinstance(step, int):
        raise TemplateRenderError("range bounds must be integers")
    if step == 0:
        raise TemplateRenderError("range step must not be 0")
    values = range(low, high + (1 if step > 0 else -1), step)
    if len(values) > limit:
        raise TemplateRenderError(f"range of {len(values)} items exceeds the limit of {limit}")
    return [chr(v) for v in values] if chars else list(values)
