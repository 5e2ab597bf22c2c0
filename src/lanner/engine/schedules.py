"""When ``Schedule`` and ``ScheduleOnDates`` triggers fire: a pure decision, no I/O, no clock.

:func:`decide` takes a trigger's spec (:func:`schedule_spec`), its stored state, ``now``, what
became of the execution it is waiting on and a predicate for the trigger's conditions, and
returns the tick to start (at most one), the new state and when to look again. As in Kestra:

- a new trigger's first tick is the first one after it was deployed (``date`` = now);
- a tick fires when due; the trigger then waits for that execution to end (``executionId``
  locks it) before the next one, so ticks missed meanwhile fire late, one at a time;
- when the execution ends in a ``stopAfter`` state the trigger disables itself;
- ``lateMaximumDelay``: a tick more than that late is skipped (not run), and the next tick
  within the delay is taken instead;
- ``recoverMissedSchedules`` (:func:`recover_missed`, applied when a scheduler takes over and
  when a trigger is enabled again): ``ALL`` (the default) runs every missed tick, ``LAST``
  only the latest, ``NONE`` none;
- a false condition skips the tick;
- a backfill runs the ticks from its ``start`` to its ``end``, then the schedule goes on from
  where it was (``previousNextExecutionDate``); a paused backfill holds the trigger.

Execution variables: ``trigger.date``, ``trigger.next``, ``trigger.previous`` (ISO dates in the
trigger's timezone). Imports the domain, the store protocols (types) and :mod:`crons`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from lanner.domain.flows import ConditionSpec, TriggerSpec
from lanner.domain.labels import Label, labels_from_map, labels_from_pairs
from lanner.domain.states import StateType
from lanner.domain.times import parse_duration
from lanner.engine.crons import Cron, CronError, parse_cron, zone_of
from lanner.store import Backfill, TriggerState

SCHEDULE_TYPE = "io.kestra.plugin.core.trigger.Schedule"
ON_DATES_TYPE = "io.kestra.plugin.core.trigger.ScheduleOnDates"
SCHEDULE_TYPES = frozenset({SCHEDULE_TYPE, ON_DATES_TYPE})
RECOVER_MODES = ("ALL", "LAST", "NONE")
_EMPTY: Mapping[str, Any] = {}


class Lock(Enum):
    """What became of the execution a trigger waits on."""

    NONE = "none"  # no execution
    RUNNING = "running"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """The properties a decision needs, checked once."""

    trigger_id: str
    type: str
    cron: Cron | None = None
    dates: tuple[datetime, ...] = ()
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    late_maximum_delay: timedelta | None = None
    recover: str = "ALL"
    stop_after: tuple[str, ...] = ()
    disabled: bool = False
    inputs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    labels: tuple[Label, ...] = ()
    conditions: tuple[ConditionSpec, ...] = ()

    def next_after(self, moment: datetime) -> datetime | None:
        if self.cron is not None:
            return self.cron.next_after(moment)
        return next((d for d in self.dates if d > moment), None)

    def at_or_after(self, moment: datetime) -> datetime | None:
        if self.cron is not None:
            return self.cron.at_or_after(moment)
        return next((d for d in self.dates if d >= moment), None)

    def previous_before(self, moment: datetime) -> datetime | None:
        if self.cron is not None:
            return self.cron.previous_before(moment)
        return next((d for d in reversed(self.dates) if d < moment), None)

    def at_or_before(self, moment: datetime) -> datetime | None:
        if self.cron is not None:
            return self.cron.at_or_before(moment)
        return next((d for d in reversed(self.dates) if d <= moment), None)


class ScheduleSpecError(ValueError):
    """A schedule trigger whose properties cannot be scheduled; names the property."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def parse_date(text: str, zone: ZoneInfo) -> datetime:
    """An ISO date-time (``Z``, an offset, or none: in ``zone``)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.replace(microsecond=0)


def _legacy_conditions(raw: Any, base: str) -> tuple[ConditionSpec, ...]:
    """The deprecated ``scheduleConditions``, read like ``conditions``."""
    if not isinstance(raw, list):
        return ()
    found = []
    for index, item in enumerate(raw):
        if isinstance(item, Mapping) and isinstance(item.get("type"), str):
            props = {k: v for k, v in item.items() if k != "type"}
            path = f"{base}.scheduleConditions[{index}]"
            found.append(ConditionSpec(item["type"], path, props, item["type"]))
    return tuple(found)


def schedule_spec(trigger: TriggerSpec) -> ScheduleSpec:
    """The spec of a ``Schedule``/``ScheduleOnDates`` trigger; :class:`ScheduleSpecError`
    naming the bad property otherwise."""
    props = trigger.properties
    base = f"triggers.{trigger.id}"
    try:
        zone = zone_of(_text(props.get("timezone")))
    except CronError as error:
        raise ScheduleSpecError(f"{base}.timezone", str(error)) from None
    recover = props.get("recoverMissedSchedules") or "ALL"
    if recover not in RECOVER_MODES:
        raise ScheduleSpecError(f"{base}.recoverMissedSchedules", f"must be one of {RECOVER_MODES}")
    late = None
    if (raw_late := _text(props.get("lateMaximumDelay"))) is not None:
        late = parse_duration(raw_late)
        if late is None:
            raise ScheduleSpecError(f"{base}.lateMaximumDelay", f"invalid duration '{raw_late}'")
    stop_after = props.get("stopAfter") or ()
    inputs = props.get("inputs")
    common: dict[str, Any] = {
        "trigger_id": trigger.id,
        "type": trigger.type,
        "zone": zone,
        "late_maximum_delay": late,
        "recover": recover,
        "stop_after": tuple(str(s) for s in stop_after) if isinstance(stop_after, list) else (),
        "disabled": trigger.is_disabled,
        "inputs": dict(inputs) if isinstance(inputs, Mapping) else {},
        "labels": labels_of(props.get("labels")),
        "conditions": trigger.conditions
        + _legacy_conditions(props.get("scheduleConditions"), base),
    }
    if trigger.type == ON_DATES_TYPE:
        raw_dates = props.get("dates")
        if not isinstance(raw_dates, list):
            raise ScheduleSpecError(f"{base}.dates", "must be a list of dates")
        dates = []
        for index, raw in enumerate(raw_dates):
            try:
                dates.append(parse_date(str(raw), zone))
            except ValueError:
                raise ScheduleSpecError(f"{base}.dates[{index}]", f"invalid date '{raw}'") from None
        return ScheduleSpec(dates=tuple(sorted(set(dates))), **common)
    cron_text = _text(props.get("cron"))
    if cron_text is None:
        raise ScheduleSpecError(f"{base}.cron", "must not be null")
    try:
        cron = parse_cron(cron_text, with_seconds=props.get("withSeconds") is True, zone=zone)
    except CronError as error:
        raise ScheduleSpecError(f"{base}.cron", str(error)) from None
    return ScheduleSpec(cron=cron, **common)


def labels_of(raw: Any) -> tuple[Label, ...]:
    """Labels in the map or the ``[{key, value}]`` form (anything else: none)."""
    if isinstance(raw, Mapping):
        return labels_from_map(raw)
    if isinstance(raw, list):
        pairs = [(x["key"], x.get("value")) for x in raw if isinstance(x, Mapping) and "key" in x]
        return labels_from_pairs(pairs)
    return ()


@dataclass(frozen=True, slots=True)
class Tick:
    """One firing: its date and the schedule's next and previous dates around it."""

    date: datetime
    next: datetime | None
    previous: datetime | None
    backfill: Backfill | None = None

    def variables(self, zone: ZoneInfo) -> dict[str, Any]:
        """``trigger.date``/``next``/``previous``, ISO in the trigger's zone (``Z`` for UTC)."""
        found = {"date": self.date, "next": self.next, "previous": self.previous}
        return {key: iso_in(value, zone) for key, value in found.items() if value is not None}


def iso_in(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` as Kestra writes a ``ZonedDateTime``: ISO with its offset, ``Z`` for UTC."""
    text = moment.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def tick_execution_id(state: TriggerState, tick: Tick) -> str:
    """The execution id of a tick: the same for every scheduler, so a tick runs once even
    when two schedulers (or one, after a crash) evaluate it."""
    parts = [*state.key, tick.date.isoformat()]
    if tick.backfill is not None:
        parts.append(f"backfill:{tick.backfill.created.isoformat()}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:22]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do now: ``fire`` (or nothing), the new ``state``, when to look again."""

    state: TriggerState
    fire: Tick | None = None
    wake_at: datetime | None = None

    @property
    def changed(self) -> bool:
        return self.fire is not None


Holds = Callable[[Tick], bool]


def _always(_: Tick) -> bool:
    return True


def new_state(
    spec: ScheduleSpec, tenant_id: str, namespace: str, flow_id: str, now: datetime
) -> TriggerState:
    """A trigger seen for the first time: its first tick is the first one after ``now``
    (ScheduleOnDates: its first date, even a past one)."""
    now = now.replace(microsecond=0)
    first = spec.next_after(now) if spec.cron is not None else next(iter(spec.dates), None)
    return TriggerState(
        tenant_id=tenant_id,
        namespace=namespace,
        flow_id=flow_id,
        trigger_id=spec.trigger_id,
        date=now,
        next_execution_date=first,
        stop_after=spec.stop_after,
    )


def recover_missed(spec: ScheduleSpec, state: TriggerState, now: datetime) -> TriggerState:
    """``recoverMissedSchedules`` once a scheduler takes over or the trigger is enabled:
    ``LAST`` keeps only the latest missed tick, ``NONE`` none, ``ALL`` every one."""
    due = state.next_execution_date
    if due is None or due > now or state.backfill is not None:
        return state
    if spec.recover == "NONE":
        return replace(state, next_execution_date=spec.next_after(now))
    if spec.recover == "LAST":
        latest = spec.at_or_before(now)
        if latest is not None and latest > due:
            return replace(state, next_execution_date=latest)
    return state


def _tick(spec: ScheduleSpec, date: datetime, backfill: Backfill | None = None) -> Tick:
    return Tick(date, spec.next_after(date), spec.previous_before(date), backfill)


def decide(
    spec: ScheduleSpec,
    state: TriggerState,
    now: datetime,
    *,
    lock: Lock = Lock.NONE,
    ended_as: StateType | None = None,
    holds: Holds = _always,
) -> Decision:
    """The next step of one schedule trigger at ``now``; see the module docstring.

    ``lock`` says what became of ``state.execution_id`` (``ended_as`` its final state when it
    ended); ``holds`` evaluates the trigger's conditions for a tick."""
    if state.execution_id is not None:
        if lock is Lock.RUNNING:
            return Decision(state)
        stopped = ended_as is not None and ended_as.value in state.stop_after
        state = replace(state, execution_id=None, disabled=state.disabled or stopped)
    if spec.disabled or state.disabled:
        return Decision(state)
    if state.backfill is not None:
        return _decide_backfill(spec, state, now, holds)
    due = state.next_execution_date
    if due is None:
        return Decision(state)
    if due > now:
        return Decision(state, wake_at=due)
    late = spec.late_maximum_delay
    if late is not None and due + late < now:
        due = spec.at_or_after(now - late)
        if due is None or due > now:
            return Decision(replace(state, next_execution_date=due), wake_at=due)
    tick = _tick(spec, due)
    state = replace(state, date=due, next_execution_date=tick.next)
    if not holds(tick):
        return Decision(state, wake_at=tick.next)
    return Decision(state, fire=tick, wake_at=tick.next)


def _decide_backfill(
    spec: ScheduleSpec, state: TriggerState, now: datetime, holds: Holds
) -> Decision:
    backfill = state.backfill
    assert backfill is not None
    if backfill.paused:
        return Decision(state)
    due = spec.at_or_after(backfill.current_date)
    if due is None or due > backfill.end:
        # Done: the schedule goes on from where it was before the backfill.
        upcoming = backfill.previous_next_execution_date or spec.next_after(now)
        done = replace(state, backfill=None, next_execution_date=upcoming)
        return Decision(done, wake_at=upcoming)
    if due > now:
        return Decision(state, wake_at=due)
    tick = _tick(spec, due, backfill)
    following = tick.next if tick.next is not None else backfill.end + timedelta(seconds=1)
    state = replace(state, backfill=replace(backfill, current_date=following))
    if not holds(tick):
        return Decision(state, wake_at=now)
    return Decision(state, fire=tick, wake_at=now)


def start_backfill(
    spec: ScheduleSpec,
    state: TriggerState,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    inputs: Mapping[str, Any] | None = None,
    labels: tuple[Label, ...] = (),
) -> TriggerState:
    """``state`` with a new backfill of the ticks in ``[start, end]`` (``end`` at most now)."""
    return replace(
        state,
        backfill=Backfill(
            start=start,
            end=min(end, now),
            current_date=start,
            created=now,
            inputs=dict(inputs or {}),
            labels=labels,
            previous_next_execution_date=state.next_execution_date,
        ),
    )


# --- conditions ------------------------------------------------------------------------------

EXPRESSION_CONDITIONS = frozenset(
    {
        "io.kestra.plugin.core.condition.Expression",
        "io.kestra.plugin.core.condition.ExpressionCondition",
        "io.kestra.core.models.conditions.types.VariableCondition",
    }
)
DAY_WEEK_CONDITIONS = frozenset(
    {
        "io.kestra.plugin.core.condition.DayWeek",
        "io.kestra.plugin.core.condition.DayWeekCondition",
        "io.kestra.core.models.conditions.types.DayWeekCondition",
    }
)
Render = Callable[[str, Mapping[str, Any]], Any]


def _holds(value: Any) -> bool:
    if value is None or value is False:
        return False
    text = str(value).strip()
    return text != "" and text.lower() != "false"
