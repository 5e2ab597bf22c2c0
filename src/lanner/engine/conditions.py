"""Trigger conditions: one pure evaluator per Kestra condition type.

A condition is tested against a :class:`ConditionContext`: the flow holding the trigger, the
execution that ended (flow triggers; none for a schedule), ``now``, the variables templates see
and a typed ``render``. :func:`conditions_hold` is what triggers call: every condition must hold,
and one that cannot be evaluated (a template error, a bad date) does not hold, as in Kestra.
``MultipleCondition`` (and a Flow trigger's ``preconditions``, see
:mod:`lanner.engine.flow_triggers`) only reads the results its time window has gathered
(``ConditionContext.windows``); :func:`window_bounds` computes that window.

Nested conditions (``Not``, ``Or``, ``MultipleCondition.conditions``) are raw mappings whose
type may be any legacy spelling: they are resolved through the type registry.
Imports the domain, the task registry and the standard library; no I/O, no clock.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from lanner.domain.executions import Execution
from lanner.domain.flows import ConditionSpec, Flow
from lanner.domain.times import parse_duration
from lanner.tasks.base import CONDITION
from lanner.tasks.registry import default_registry

CORE = "io.kestra.plugin.core.condition"
EXECUTION_FLOW = f"{CORE}.ExecutionFlow"
EXECUTION_STATUS = f"{CORE}.ExecutionStatus"
MULTIPLE = f"{CORE}.MultipleCondition"
FLOW_CONDITION = f"{CORE}.FlowCondition"

Render = Callable[[str, Mapping[str, Any]], Any]
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class ConditionError(Exception):
    """A condition that cannot be evaluated (it then does not hold)."""


@dataclass(frozen=True, slots=True)
class ConditionContext:
    """What a condition is tested against.

    ``variables``: what its templates see (for a flow trigger, the ending execution's context
    with ``trigger.outputs``; for a schedule, ``trigger.date``...). ``windows``: the results a
    ``MultipleCondition`` gathered in its current window, by its id then condition name.
    """

    flow: Flow
    now: datetime
    render: Render
    execution: Execution | None = None
    variables: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    windows: Mapping[str, Mapping[str, bool]] = field(default_factory=lambda: _EMPTY)


def canonical_type(name: str) -> str:
    """The canonical type of a condition type name (legacy spellings resolved)."""
    resolved = default_registry.resolve(name, CONDITION)
    return resolved.type if resolved is not None else name


def _as_raw(condition: ConditionSpec | Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    if isinstance(condition, ConditionSpec):
        return condition.type, condition.properties
    name = condition.get("type")
    if not isinstance(name, str):
        raise ConditionError("a condition needs a `type`")
    return canonical_type(name), condition


def is_multiple(condition: ConditionSpec | Mapping[str, Any]) -> bool:
    """Whether ``condition`` is a ``MultipleCondition`` (its results come from a window)."""
    try:
        return _as_raw(condition)[0] == MULTIPLE
    except ConditionError:
        return False


def condition_holds(condition: ConditionSpec | Mapping[str, Any], ctx: ConditionContext) -> bool:
    """Whether one condition holds; raises :class:`ConditionError` when it cannot tell."""
    kind, props = _as_raw(condition)
    evaluator = EVALUATORS.get(kind)
    if evaluator is None:
        raise ConditionError(f"condition type {kind} cannot be evaluated")
    return evaluator(props, ctx)


def conditions_hold(
    conditions: Iterable[ConditionSpec | Mapping[str, Any]], ctx: ConditionContext
) -> bool:
    """Whether every condition holds; one that cannot be evaluated does not (as Kestra)."""
    for condition in conditions:
        try:
            if not condition_holds(condition, ctx):
                return False
        except ConditionError:
            return False
    return True


# -- helpers ------------------------------------------------------------------------------------


def is_truthy(value: Any) -> bool:
    """Kestra's rendered-condition truth: false when blank or ``false``."""
    if value is None or value is False:
        return False
    text = str(value).strip()
    return text != "" and text != "false"


def _render(ctx: ConditionContext, template: Any, extra: Mapping[str, Any] | None = None) -> Any:
    if not isinstance(template, str):
        return template
    variables = {**ctx.variables, **(extra or {})} if extra else ctx.variables
    try:
        return ctx.render(template, variables)
    except Exception as error:  # a template error of any kind: the condition cannot tell
        raise ConditionError(f"cannot render {template!r}: {error}") from None


def _text(ctx: ConditionContext, props: Mapping[str, Any], name: str) -> str | None:
    value = props.get(name)
    if value is None:
        return None
    return str(_render(ctx, value))


def _execution(ctx: ConditionContext) -> Execution:
    if ctx.execution is None:
        raise ConditionError("Invalid condition with null execution")
    return ctx.execution


def _states(value: Any) -> list[str] | None:
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else [value]
    return [str(item).upper() for item in items]


def _instant(text: str) -> datetime:
    """A rendered date: ISO instant/date-time (``Z`` or offset; none means UTC) or a date."""
    cleaned = text.strip()
    cleaned = re.sub(r"\[[^\]]*\]$", "", cleaned)  # Java's ``[Europe/Paris]`` zone suffix
    try:
        value = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise ConditionError(f"not a date: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _date_of(ctx: ConditionContext, props: Mapping[str, Any]) -> datetime:
    """The condition's ``date`` (default ``{{ trigger.date }}``); ``now`` when the context has
    no ``trigger.date`` (a flow trigger) and the default is kept."""
    raw = props.get("date")
    if raw is None or raw == "{{ trigger.date }}":
        trigger = ctx.variables.get("trigger")
        has_date = isinstance(trigger, Mapping) and trigger.get("date") is not None
        if not has_date:
            return ctx.now
        raw = "{{ trigger.date }}"
    value = _render(ctx, raw)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    return _instant(str(value))


def _nested(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    nested = props.get("conditions")
    if not isinstance(nested, list) or not nested:
        raise ConditionError("`conditions` must be a non-empty list")
    return [item for item in nested if isinstance(item, Mapping)]


# -- evaluators ---------------------------------------------------------------------------------


def execution_status(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    current = _execution(ctx).state.current.value
    in_ = _states(props.get("in"))
    not_in = _states(props.get("notIn"))
    if in_ is not None and current not in in_:
        return False
    return not (not_in is not None and current in not_in)


def execution_flow(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    execution = _execution(ctx)
    return execution.namespace == _text(ctx, props, "namespace") and execution.flow_id == _text(
        ctx, props, "flowId"
    )


def execution_namespace(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    namespace = _execution(ctx).namespace
    wanted = _text(ctx, props, "namespace") or ""
    comparison = _text(ctx, props, "comparison")
    if comparison is None:
        comparison = "PREFIX" if is_truthy(props.get("prefix")) else "EQUALS"
    match comparison.upper():
        case "EQUALS":
            return namespace == wanted
        case "PREFIX":
            return namespace.startswith(wanted)
        case "SUFFIX":
            return namespace.endswith(wanted)
    raise ConditionError(f"unknown namespace comparison {comparison}")


def _label_pairs(raw: Any) -> list[tuple[str, str]]:
    if isinstance(raw, Mapping):
        return [(str(key), _label_value(value)) for key, value in raw.items()]
    if isinstance(raw, list):
        return [
            (str(item.get("key")), _label_value(item.get("value")))
            for item in raw
            if isinstance(item, Mapping)
        ]
    raise ConditionError("`labels` must be a map or a list of key/value")


def _label_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def has_labels(execution: Execution, raw: Any) -> bool:
    """Whether ``execution`` carries every label of ``raw`` (a map or a key/value list)."""
    present = {(label.key, label.value) for label in execution.labels}
    return all(pair in present for pair in _label_pairs(raw))


def execution_labels(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    return has_labels(_execution(ctx), props.get("labels"))


def execution_outputs(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    outputs = _execution(ctx).outputs
    if not outputs:
        return False
    trigger = dict(ctx.variables.get("trigger") or {})
    trigger["outputs"] = dict(outputs)
    return is_truthy(_render(ctx, props.get("expression"), {"trigger": trigger}))


def expression(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    return is_truthy(_render(ctx, props.get("expression")))


def has_retry_attempt(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    execution = _execution(ctx)
    return execution.attempt_number > 1 and execution_status(props, ctx)


def not_(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    return not any(condition_holds(item, ctx) for item in _nested(props))


def or_(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    return any(condition_holds(item, ctx) for item in _nested(props))


def multiple(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    """Every named condition was met in the current window (:attr:`ConditionContext.windows`)."""
    names = props.get("conditions")
    if not isinstance(names, Mapping) or not names:
        raise ConditionError("`conditions` must be a non-empty map")
    results = ctx.windows.get(str(props.get("id")), {})
    return all(results.get(str(name)) is True for name in names)


DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _weekday(ctx: ConditionContext, props: Mapping[str, Any]) -> int:
    name = (_text(ctx, props, "dayOfWeek") or "").upper()
    if name not in DAYS:
        raise ConditionError(f"unknown dayOfWeek {name}")
    return DAYS.index(name)


def day_week(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    return _date_of(ctx, props).weekday() == _weekday(ctx, props)


def day_week_in_month(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    current = _date_of(ctx, props).date()
    weekday = _weekday(ctx, props)
    days = calendar.monthrange(current.year, current.month)[1]
    matching = [
        day
        for day in range(1, days + 1)
        if date(current.year, current.month, day).weekday() == weekday
    ]
    which = (_text(ctx, props, "dayInMonth") or "").upper()
    index = {"FIRST": 0, "SECOND": 1, "THIRD": 2, "FOURTH": 3, "LAST": -1}.get(which)
    if index is None:
        raise ConditionError(f"unknown dayInMonth {which}")
    return current.day == matching[index]


def weekend(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    return _date_of(ctx, props).weekday() >= 5


def _bound(ctx: ConditionContext, props: Mapping[str, Any], name: str) -> datetime | None:
    text = _text(ctx, props, name)
    return None if text is None else _instant(text)


def date_time_between(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    current = _date_of(ctx, props)
    after, before = _bound(ctx, props, "after"), _bound(ctx, props, "before")
    if after is None and before is None:
        raise ConditionError("Invalid condition with no before nor after")
    return (after is None or current > after) and (before is None or current < before)


def _time_of(text: str) -> time:
    try:
        value = time.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConditionError(f"not a time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _seconds_utc(value: time) -> float:
    offset = value.utcoffset() or timedelta()
    seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    return (seconds - offset.total_seconds()) % 86400


def time_between(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    current = _date_of(ctx, props)
    now_s = _seconds_utc(current.timetz())
    after_text, before_text = _text(ctx, props, "after"), _text(ctx, props, "before")
    if after_text is None and before_text is None:
        raise ConditionError("Invalid condition with no before nor after")
    after = None if after_text is None else _seconds_utc(_time_of(after_text))
    before = None if before_text is None else _seconds_utc(_time_of(before_text))
    return (after is None or now_s > after) and (before is None or now_s < before)


def public_holiday(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    import holidays  # lazily: a large module most flows never need

    day = _date_of(ctx, props).date()
    country = _text(ctx, props, "country")
    subdivision = _text(ctx, props, "subDivision")
    if country is None:
        raise ConditionError("PublicHoliday needs a `country` (Lanner has no server locale)")
    try:
        calendar_ = holidays.country_holidays(country.upper(), subdiv=subdivision)
    except NotImplementedError as error:
        raise ConditionError(str(error)) from None
    return day in calendar_


def flow_namespace(props: Mapping[str, Any], ctx: ConditionContext) -> bool:
    """The deprecated ``FlowNamespaceCondition``: the ending execution's namespace."""
    return execution_namespace(props, ctx)


Evaluator = Callable[[Mapping[str, Any], ConditionContext], bool]

EVALUATORS: Mapping[str, Evaluator] = {
    f"{CORE}.ExecutionStatus": execution_status,
    f"{CORE}.ExecutionFlow": execution_flow,
    f"{CORE}.ExecutionNamespace": execution_namespace,
    f"{CORE}.ExecutionLabels": execution_labels,
    f"{CORE}.ExecutionOutputs": execution_outputs,
    f"{CORE}.Expression": expression,
    f"{CORE}.HasRetryAttempt": has_retry_attempt,
    f"{CORE}.Not": not_,
    f"{CORE}.Or": or_,
    f"{CORE}.MultipleCondition": multiple,
    f"{CORE}.DayWeek": day_week,
    f"{CORE}.DayWeekInMonth": day_week_in_month,
    f"{CORE}.Weekend": weekend,
    f"{CORE}.DateTimeBetween": date_time_between,
    f"{CORE}.TimeBetween": time_between,
    f"{CORE}.PublicHoliday": public_holiday,
    f"{CORE}.FlowCondition": execution_flow,
    f"{CORE}.FlowNamespaceCondition": flow_namespace,
}


# -- time windows (MultipleCondition, preconditions) --------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A window's kind and its settings (Kestra's ``timeWindow``)."""

    type: str = "DURATION_WINDOW"
    window: timedelta | None = None
    window_advance: timedelta | None = None
    deadline: time | None = None
    start_time: time | None = None
    end_time: time | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> TimeWindow:
        """From a ``timeWindow`` mapping (or a legacy ``window``/``windowAdvance`` pair)."""
        raw = raw or {}

        def duration(name: str) -> timedelta | None:
            value = raw.get(name)
            if value is None:
                return None
            parsed = parse_duration(str(value))
            if parsed is None:
                raise ConditionError(f"`{name}` is not a duration: {value}")
            return parsed

        def clock(name: str) -> time | None:
            value = raw.get(name)
            return None if value is None else _time_of(str(value)).replace(tzinfo=None)

        return cls(
            type=str(raw.get("type") or "DURATION_WINDOW").upper(),
            window=duration("window"),
            window_advance=duration("windowAdvance"),
            deadline=clock("deadline"),
            start_time=clock("startTime"),
            end_time=clock("endTime"),
        )


def _midnight(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _at(day: datetime, clock: time | None, name: str) -> datetime:
    if clock is None:
        raise ConditionError(f"the time window needs `{name}`")
    return day + timedelta(hours=clock.hour, minutes=clock.minute, seconds=clock.second)


def window_bounds(window: TimeWindow, now: datetime) -> tuple[datetime, datetime]:
    """The ``[start, end]`` of the window a new result at ``now`` opens (Kestra's rules, UTC):
    a ``DURATION_WINDOW`` is aligned on the day, hour or minute (shifted by ``windowAdvance``),
    a ``SLIDING_WINDOW`` starts at ``now``, the daily ones span today's times."""
    now = now.astimezone(UTC).replace(microsecond=0)
    length = window.window or timedelta(days=1)
    match window.type:
        case "DURATION_WINDOW":
            start = now
            if length >= timedelta(days=1):
                start = start.replace(hour=0)
            if length >= timedelta(hours=1):
                start = start.replace(minute=0)
            minutes = int(length.total_seconds() // 60)
            if minutes > 0:
                start = start.replace(second=0, minute=0) + timedelta(
                    minutes=minutes * (now.minute // minutes)
                )
            if window.window_advance is not None:
                start = start + window.window_advance
            return start, start + length - timedelta(milliseconds=1)
        case "SLIDING_WINDOW":
            return now, now + length
        case "DAILY_TIME_WINDOW":
            day = _midnight(now)
            return _at(day, window.start_time, "startTime"), _at(day, window.end_time, "endTime")
        case "DAILY_TIME_DEADLINE":
            day = _midnight(now)
            return day, _at(day, window.deadline, "deadline")
    raise ConditionError(f"unknown time window type {window.type}")


def is_within(start: datetime, end: datetime, now: datetime) -> bool:
    """Whether a window is open at ``now``: from ``start`` on (Kestra opens a window a moment
    before it tests it, so a result at its very start counts), before ``end``."""
    return start <= now < end
