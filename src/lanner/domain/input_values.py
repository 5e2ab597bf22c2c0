"""Coercion of submitted execution inputs by the flow's input declarations, as Kestra does.

Values arrive as text (multipart form parts) or already typed (JSON, YAML defaults, subflow
inputs). Each declared input is parsed by its type, checked against its constraints (``validator``,
``min``/``max``, ``after``/``before``, allowed ``values``...) and written in its JSON form:
instants, dates, times and durations as ISO-8601 text, FILE inputs as ``kestra:///`` URIs (the
caller stores the file first and submits its URI), SECRET inputs encrypted by the ``encrypt``
function the caller passes (the server's key; without one they stay clear, and a failing
``encrypt`` is that input's problem). Dotted input ids become nested maps. Every
problem is collected and raised at once as :class:`InputValuesError`, each naming its input.
Inputs are evaluated in ``dependsOn`` order; disabled ones are left out and templated defaults
rendered (:mod:`lanner.domain.input_order`).

Pure: imports only the standard library and the domain (YAML parsing, rendering passed in).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from lanner.domain.input_order import Render, default_value, is_enabled, order_inputs
from lanner.domain.inputs import InputSpec, InputType
from lanner.domain.times import format_duration, format_instant, parse_duration

YamlParser = Callable[[str], Any]
Encrypt = Callable[[str], str]
#: ``(pattern, text) -> matched``; may raise ``TimeoutError`` (a pattern too slow on ``text``).
PatternMatch = Callable[[str, str], bool]

MISSING_REQUIRED = "missing required input"
FILE_URI_PREFIXES = ("kestra://", "nsfile://")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$")
_SELECTS = (InputType.ENUM, InputType.SELECT)


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One invalid input: its id and what is wrong."""

    input_id: str
    message: str


class InputValuesError(ValueError):
    """Some submitted inputs are missing or invalid; ``problems`` names each one."""

    def __init__(self, problems: Sequence[InputProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            ", ".join(f"inputs.{p.input_id}: {p.message}" for p in self.problems) or "inputs"
        )


class _Invalid(ValueError):
    """A value that does not fit its input; the message is the input's problem."""


def coerce_inputs(
    specs: Sequence[InputSpec],
    submitted: Mapping[str, Any],
    *,
    parse_yaml: YamlParser | None = None,
    encrypt: Encrypt | None = None,
    render: Render | None = None,
    context: Mapping[str, Any] | None = None,
    match_pattern: PatternMatch | None = None,
) -> dict[str, Any]:
    """The execution's ``inputs`` map: every enabled declared input, typed, defaults applied.

    Undeclared submitted values are ignored, as Kestra does. An optional input without a
    value nor a default is present with ``None``. ``render`` evaluates ``dependsOn``
    conditions and templated defaults with ``context`` plus the ``inputs`` resolved so far.
    ``match_pattern`` checks ``validator`` patterns (Java's syntax, bounded in time, from
    :mod:`lanner.regexes`); without it the standard library's ``re`` does.
    """
    values: dict[str, Any] = {}
    resolved: dict[str, Any] = {}
    problems: list[InputProblem] = []
    scope = {**(context or {}), "inputs": values}
    for spec in order_inputs(specs):
        try:
            if not is_enabled(spec, resolved, render=render, context=scope):
                continue
            raw = submitted.get(spec.id)
            if _is_absent(raw, spec) and spec.has_defaults:
                raw = default_value(spec, render=render, context=scope)
            if not _is_absent(raw, spec):
                value = coerce_value(
                    spec, raw, parse_yaml=parse_yaml, encrypt=encrypt, match_pattern=match_pattern
                )
            elif spec.required:
                raise _Invalid(MISSING_REQUIRED)
            else:
                value = None
        except ValueError as exc:
            problems.append(InputProblem(spec.id, str(exc)))
            continue
        _put(values, spec.id, value)
        resolved[spec.id] = value
    if problems:
        raise InputValuesError(problems)
    return values


def coerce_value(
    spec: InputSpec,
    raw: Any,
    *,
    parse_yaml: YamlParser | None = None,
    encrypt: Encrypt | None = None,
    match_pattern: PatternMatch | None = None,
) -> Any:
    """One input's value in its JSON form; raises ``ValueError`` naming what is wrong."""
    value = _coerce(spec.type, spec, raw, parse_yaml, match_pattern)
    if spec.type is InputType.SECRET and encrypt is not None:
        try:
            return encrypt(value)
        except ValueError as error:
            raise _Invalid(str(error)) from None
    return value


def _is_absent(raw: Any, spec: InputSpec) -> bool:
    if raw is None:
        return True
    # An empty form field means "not given" for every type but text.
    return raw == "" and spec.type not in (InputType.STRING, InputType.SECRET)


def _put(values: dict[str, Any], input_id: str, value: Any) -> None:
    """Dotted ids become nested maps: ``a.b`` → ``{"a": {"b": value}}``."""
    *parents, leaf = input_id.split(".")
    target = values
    for name in parents:
        child = target.get(name)
        if not isinstance(child, dict):
            child = {}
            target[name] = child
        target = child
    target[leaf] = value


# --- per type -------------------------------------------------------------------------------


def _coerce(
    kind: InputType,
    spec: InputSpec,
    raw: Any,
    parse_yaml: YamlParser | None,
    match_pattern: PatternMatch | None = None,
) -> Any:
    props = spec.properties
    if kind in (InputType.STRING, InputType.SECRET):
        return _check_pattern(spec, _text(raw), match_pattern)
    if kind is InputType.EMAIL:
        text = _text(raw).strip()
        if not _EMAIL_RE.match(text):
            raise _Invalid(f"it must be a valid email address, but received `{text}`")
        return text
    if kind is InputType.URI:
        text = _text(raw).strip()
        if not _URI_RE.match(text):
            raise _Invalid(f"it must be a valid URI, but received `{text}`")
        return text
    if kind is InputType.INT:
        return _bounded(spec, _int(raw))
    if kind is InputType.FLOAT:
        return _bounded(spec, _float(raw))
    if kind in (InputType.BOOLEAN, InputType.BOOL):
        return _bool(raw)
    if kind is InputType.DATETIME:
        instant = _datetime(raw)
        _check_window(spec, instant, _datetime)
        return format_instant(instant)
    if kind is InputType.DATE:
        day = _date(raw)
        _check_window(spec, day, _date)
        return day.isoformat()
    if kind is InputType.TIME:
        moment = _time(raw)
        _check_window(spec, moment, _time)
        return moment.isoformat()
    if kind is InputType.DURATION:
        duration = _duration(raw)
        _check_range(spec, duration, _duration)
        return format_duration(duration)
    if kind is InputType.FILE:
        return _file(spec, raw)
    if kind is InputType.JSON:
        return _json(raw)
    if kind is InputType.YAML:
        return _yaml(raw, parse_yaml)
    if kind in _SELECTS:
        return _select(spec, _scalar_text(raw))
    if kind is InputType.MULTISELECT:
        items = [_scalar_text(item) for item in _list(raw, split_commas=True)]
        for item in items:
            _select(spec, item)
        return items
    if kind is InputType.ARRAY:
        item_type = _item_type(props.get("itemType"))
        return [_coerce(item_type, spec, item, parse_yaml, match_pattern) for item in _list(raw)]
    raise _Invalid(f"unsupported input type `{kind}`")  # pragma: no cover - enum is closed


def _text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    raise _Invalid(f"it must be a string, but received `{_show(raw)}`")


def _scalar_text(raw: Any) -> str:
    if isinstance(raw, list | dict):
        raise _Invalid(f"it must be a single value, but received `{_show(raw)}`")
    return _text(raw)


def _check_pattern(spec: InputSpec, text: str, match_pattern: PatternMatch | None) -> str:
    pattern = spec.properties.get("validator")
    if pattern is None:
        return text
    try:
        if match_pattern is not None:
            matched = match_pattern(str(pattern), text)
        else:
            matched = re.fullmatch(str(pattern), text) is not None
    except TimeoutError:
        raise _Invalid(f"the pattern `{pattern}` took too long to check this value") from None
    if not matched:
        raise _Invalid(f"it must match the pattern `{pattern}`")
    return text


def _int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise _Invalid(f"it must be an integer, but received `{_show(raw)}`")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    try:
        return int(str(raw).strip())
    except ValueError:
        raise _Invalid(f"it must be an integer, but received `{_show(raw)}`") from None


def _float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise _Invalid(f"it must be a number, but received `{_show(raw)}`")
    if isinstance(raw, int | float):
        return float(raw)
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise _Invalid(f"it must be a number, but received `{_show(raw)}`") from None
    if math.isnan(value) or math.isinf(value):
        raise _Invalid(f"it must be a finite number, but received `{_show(raw)}`")
    return value


def _bounded(spec: InputSpec, value: int | float) -> int | float:
    low, high = spec.properties.get("min"), spec.properties.get("max")
    if low is not None and value < _float(low):
        raise _Invalid(f"it must be more than `{low}`, but received `{value}`")
    if high is not None and value > _float(high):
        raise _Invalid(f"it must be less than `{high}`, but received `{value}`")
    return value


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    # Java's Boolean.valueOf: anything but "true" (any case) is false.
    return str(raw).strip().lower() == "true"


def _datetime(raw: Any) -> datetime:
    if isinstance(raw, datetime):
        value = raw
    else:
        text = _text(raw).strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _Invalid(f"it must be an ISO-8601 date-time, but received `{text}`") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _date(raw: Any) -> date:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    text = _text(raw).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"it must be an ISO-8601 date, but received `{text}`") from None


def _time(raw: Any) -> time:
    if isinstance(raw, time):
        return raw
    text = _text(raw).strip()
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"it must be an ISO-8601 time, but received `{text}`") from None


def _duration(raw: Any) -> timedelta:
    if isinstance(raw, timedelta):
        return raw
    text = _text(raw).strip()
    parsed = parse_duration(text)
    if parsed is None:
        raise _Invalid(f"it must be an ISO-8601 duration, but received `{text}`")
    return parsed


def _check_window(spec: InputSpec, value: Any, parse: Callable[[Any], Any]) -> None:
    after, before = spec.properties.get("after"), spec.properties.get("before")
    if after is not None and not value > parse(after):
        raise _Invalid(f"it must be after `{after}`, but received `{_show(value)}`")
    if before is not None and not value < parse(before):
        raise _Invalid(f"it must be before `{before}`, but received `{_show(value)}`")


def _check_range(spec: InputSpec, value: timedelta, parse: Callable[[Any], timedelta]) -> None:
    low, high = spec.properties.get("min"), spec.properties.get("max")
    if low is not None and value < parse(low):
        raise _Invalid(f"it must be more than `{low}`, but received `{format_duration(value)}`")
    if high is not None and value > parse(high):
        raise _Invalid(f"it must be less than `{high}`, but received `{format_duration(value)}`")


def _file(spec: InputSpec, raw: Any) -> str:
    text = _text(raw).strip()
    if not text.startswith(FILE_URI_PREFIXES):
        raise _Invalid("it must be an uploaded file (a multipart part) or a kestra:// URI")
    extensions = spec.properties.get("allowedFileExtensions") or spec.properties.get("extension")
    if extensions:
        allowed = [extensions] if isinstance(extensions, str) else list(extensions)
        name = text.rsplit("/", 1)[-1].lower()
        if not any(name.endswith(str(ext).lower()) for ext in allowed):
            raise _Invalid(f"it must be a file with extension {', '.join(map(str, allowed))}")
    return text


def _json(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        raise _Invalid("it must be valid JSON") from None


def _yaml(raw: Any, parse_yaml: YamlParser | None) -> Any:
    if not isinstance(raw, str):
        return raw
    if parse_yaml is None:
        return _json(raw)
    try:
        return parse_yaml(raw)
    except Exception:
        raise _Invalid("it must be valid YAML") from None


def _list(raw: Any, *, split_commas: bool = False) -> list[Any]:
    if isinstance(raw, list | tuple):
        return list(raw)
    text = _text(raw).strip()
    try:
        value = json.loads(text)
    except ValueError:
        if split_commas:
            return [part.strip() for part in text.split(",") if part.strip()]
        raise _Invalid(f"it must be a JSON array, but received `{text}`") from None
    if not isinstance(value, list):
        if split_commas and not isinstance(value, dict):
            return [value]
        raise _Invalid(f"it must be a JSON array, but received `{text}`")
    return value


def _select(spec: InputSpec, value: str) -> str:
    allowed = spec.properties.get("values", spec.properties.get("options"))
    if allowed is None or spec.properties.get("allowCustomValue") is True:
        return value
    choices = [str(choice) for choice in allowed]
    if value not in choices:
        raise _Invalid(f"it must match the values `{choices}`, but received `{value}`")
    return value


def _item_type(raw: Any) -> InputType:
    try:
        item_type = InputType(str(raw))
    except ValueError:
        raise _Invalid(f"invalid itemType `{raw}`") from None
    if item_type in (InputType.ARRAY, InputType.FILE):
        raise _Invalid(f"invalid itemType `{raw}`")
    return item_type


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
