"""The schedule decision with an injected clock: no database, no sleeping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lanner.domain.flows import ConditionSpec, TriggerSpec
from lanner.domain.states import StateType
from lanner.engine.conditions import ConditionContext, conditions_hold
from lanner.engine.crons import CronError, parse_cron, zone_of
from lanner.engine.schedules import (
    ON_DATES_TYPE,
    SCHEDULE_TYPE,
    SCHEDULE_TYPES,
    Lock,
    ScheduleSpec,
    ScheduleSpecError,
    Tick,
    decide,
    new_state,
    recover_missed,
    schedule_spec,
    start_backfill,
    tick_execution_id,
)
from lanner.flows.parser import parse_flow
from lanner.store import TriggerState

T0 = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC)  # a Monday


def spec_of(**props: Any) -> ScheduleSpec:
    kind = ON_DATES_TYPE if "dates" in props else SCHEDULE_TYPE
    return schedule_spec(TriggerSpec(id="tick", type=kind, path="triggers[0]", properties=props))


def fresh(spec: ScheduleSpec, now: datetime = T0) -> TriggerState:
    return new_state(spec, "main", "company.team", "flow", now)


def run(spec: ScheduleSpec, state: TriggerState, until: datetime, **kw: Any) -> list[datetime]:
    """Decide repeatedly from the state's next date to ``until``, executions ending at once."""
    fired: list[datetime] = []
    now = min(state.next_execution_date or until, until)
    for _ in range(10_000):
        decision = decide(spec, state, now, lock=Lock.ENDED, **kw)
        state = decision.state
        if decision.fire is not None:
            fired.append(decision.fire.date)
            state = replace(state, execution_id="x")
        wake = decision.wake_at
        if wake is None or wake > until:
            break
        now = max(now, wake)
    return fired


# --- crons ---------------------------------------------------------------------------------


def test_five_fields_step_minute_by_minute() -> None:
    cron = parse_cron("*/15 * * * *")
    assert cron.next_after(T0) == datetime(2026, 1, 5, 10, 15, tzinfo=UTC)
    assert cron.at_or_after(datetime(2026, 1, 5, 10, 15, tzinfo=UTC)) == datetime(
        2026, 1, 5, 10, 15, tzinfo=UTC
    )
    assert cron.previous_before(T0) == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_with_seconds_puts_seconds_first() -> None:
    cron = parse_cron("*/10 * * * * *", with_seconds=True)
    assert cron.next_after(T0) == datetime(2026, 1, 5, 10, 0, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("@hourly", datetime(2026, 1, 5, 11, 0, tzinfo=UTC)),
        ("@daily", datetime(2026, 1, 6, tzinfo=UTC)),
        ("@midnight", datetime(2026, 1, 6, tzinfo=UTC)),
        ("@weekly", datetime(2026, 1, 11, tzinfo=UTC)),
        ("@monthly", datetime(2026, 2, 1, tzinfo=UTC)),
        ("@yearly", datetime(2027, 1, 1, tzinfo=UTC)),
        ("@annually", datetime(2027, 1, 1, tzinfo=UTC)),
        ("0 0 L * *", datetime(2026, 1, 31, tzinfo=UTC)),
        ("0 0 * * 5#2", datetime(2026, 1, 9, tzinfo=UTC)),
        ("0 0 15W * *", datetime(2026, 1, 15, tzinfo=UTC)),
        ("0 9 * * MON-FRI", datetime(2026, 1, 6, 9, tzinfo=UTC)),
        ("0 0 * * 7", datetime(2026, 1, 11, tzinfo=UTC)),
    ],
)
def test_nicknames_and_special_characters(expression: str, expected: datetime) -> None:
    assert parse_cron(expression).next_after(T0) == expected


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("* * * * * *", False), ("* * * *", False), ("* * * * *", True), ("61 * * * *", False)],
)
def test_bad_expressions_are_refused(expression: str, seconds: bool) -> None:
    with pytest.raises(CronError):
        parse_cron(expression, with_seconds=seconds)


def test_hourly_through_the_autumn_dst_change_runs_every_real_hour() -> None:
    cron = parse_cron("0 * * * *", zone=zone_of("Europe/Paris"))
    moment = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)
    seen = []
    for _ in range(5):
        found = cron.next_after(moment)
        assert found is not None
        seen.append(found)
        moment = found
    assert seen == [datetime(2026, 10, 24, 23 + h, tzinfo=UTC) for h in range(1)] + [
        datetime(2026, 10, 25, h, tzinfo=UTC) for h in range(4)
    ]


def test_daily_in_a_zone_follows_local_time_across_spring_dst() -> None:
    cron = parse_cron("0 9 * * *", zone=zone_of("Europe/Paris"))
    before = cron.next_after(datetime(2026, 3, 28, 0, tzinfo=UTC))
    after = cron.next_after(datetime(2026, 3, 29, 0, tzinfo=UTC))
    assert before == datetime(2026, 3, 28, 8, tzinfo=UTC)  # 09:00 CET
    assert after == datetime(2026, 3, 29, 7, tzinfo=UTC)  # 09:00 CEST


def test_unknown_timezone_names_the_property() -> None:
    with pytest.raises(ScheduleSpecError) as caught:
        spec_of(cron="* * * * *", timezone="Mars/Olympus")
    assert caught.value.path == "triggers.tick.timezone"


def test_bad_cron_names_the_property() -> None:
    with pytest.raises(ScheduleSpecError) as caught:
        spec_of(cron="not a cron")
    assert caught.value.path == "triggers.tick.cron"


# --- firing --------------------------------------------------------------------------------


def test_a_new_trigger_waits_for_its_first_tick_after_deploy() -> None:
    spec = spec_of(cron="* * * * *")
    state = fresh(spec)
    assert state.next_execution_date == datetime(2026, 1, 5, 10, 1, tzinfo=UTC)
    decision = decide(spec, state, T0)
    assert decision.fire is None
    assert decision.wake_at == datetime(2026, 1, 5, 10, 1, tzinfo=UTC)


def test_a_due_tick_fires_with_date_next_and_previous() -> None:
    spec = spec_of(cron="* * * * *")
    state = fresh(spec)
    decision = decide(spec, state, datetime(2026, 1, 5, 10, 1, 0, 200, tzinfo=UTC))
    assert decision.fire == Tick(
        datetime(2026, 1, 5, 10, 1, tzinfo=UTC),
        datetime(2026, 1, 5, 10, 2, tzinfo=UTC),
        datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
    )
    assert decision.state.date == datetime(2026, 1, 5, 10, 1, tzinfo=UTC)
    assert decision.state.next_execution_date == datetime(2026, 1, 5, 10, 2, tzinfo=UTC)
    assert decision.fire.variables(spec.zone) == {
        "date": "2026-01-05T10:01:00Z",
        "next": "2026-01-05T10:02:00Z",
        "previous": "2026-01-05T10:00:00Z",
    }


def test_variables_are_written_in_the_trigger_timezone() -> None:
    spec = spec_of(cron="0 9 * * *", timezone="Europe/Paris")
    tick = Tick(datetime(2026, 1, 5, 8, tzinfo=UTC), None, None)
    assert tick.variables(spec.zone) == {"date": "2026-01-05T09:00:00+01:00"}


def test_a_running_execution_holds_the_trigger_and_its_end_releases_it() -> None:
    spec = spec_of(cron="* * * * *")
    state = replace(fresh(spec), execution_id="exec-1")
    late = datetime(2026, 1, 5, 10, 3, tzinfo=UTC)
    held = decide(spec, state, late, lock=Lock.RUNNING)
    assert held.fire is None
    assert held.wake_at is None
    released = decide(spec, state, late, lock=Lock.ENDED, ended_as=StateType.SUCCESS)
    assert released.fire is not None
    assert released.fire.date == datetime(2026, 1, 5, 10, 1, tzinfo=UTC)  # late, not lost
    assert released.state.execution_id is None


def test_stop_after_disables_the_trigger_when_the_execution_ends_so() -> None:
    spec = spec_of(cron="* * * * *", stopAfter=["FAILED"])
    state = replace(fresh(spec), execution_id="exec-1", stop_after=("FAILED",))
    now = datetime(2026, 1, 5, 10, 5, tzinfo=UTC)
    kept = decide(spec, state, now, lock=Lock.ENDED, ended_as=StateType.SUCCESS)
    assert not kept.state.disabled
    assert kept.fire is not None
    stopped = decide(spec, state, now, lock=Lock.ENDED, ended_as=StateType.FAILED)
    assert stopped.state.disabled
    assert stopped.fire is None


def test_a_disabled_trigger_never_fires() -> None:
    spec = spec_of(cron="* * * * *", disabled=True)
    assert decide(spec, fresh(spec), T0 + timedelta(hours=1)).fire is None
    enabled = spec_of(cron="* * * * *")
    state = replace(fresh(enabled), disabled=True)
    assert decide(enabled, state, T0 + timedelta(hours=1)).fire is None


def test_all_missed_ticks_fire_one_after_another_by_default() -> None:
    spec = spec_of(cron="* * * * *")
    state = fresh(spec)
    after_downtime = datetime(2026, 1, 5, 10, 5, 30, tzinfo=UTC)
    state = recover_missed(spec, state, after_downtime)
    fired = run(spec, state, after_downtime)
    assert fired == [datetime(2026, 1, 5, 10, m, tzinfo=UTC) for m in range(1, 6)]


def test_recover_last_keeps_only_the_latest_missed_tick() -> None:
    spec = spec_of(cron="* * * * *", recoverMissedSchedules="LAST")
    after_downtime = datetime(2026, 1, 5, 10, 5, 30, tzinfo=UTC)
    state = recover_missed(spec, fresh(spec), after_downtime)
    assert run(spec, state, after_downtime) == [datetime(2026, 1, 5, 10, 5, tzinfo=UTC)]


def test_recover_none_skips_every_missed_tick() -> None:
    spec = spec_of(cron="* * * * *", recoverMissedSchedules="NONE")
    after_downtime = datetime(2026, 1, 5, 10, 5, 30, tzinfo=UTC)
    state = recover_missed(spec, fresh(spec), after_downtime)
    assert state.next_execution_date == datetime(2026, 1, 5, 10, 6, tzinfo=UTC)
    assert run(spec, state, after_downtime) == []


def test_recovery_changes_nothing_when_nothing_was_missed() -> None:
    for mode in ("ALL", "LAST", "NONE"):
        spec = spec_of(cron="* * * * *", recoverMissedSchedules=mode)
        state = fresh(spec)
        assert recover_missed(spec, state, T0) == state


def test_late_maximum_delay_skips_ticks_that_are_too_late() -> None:
    spec = spec_of(cron="* * * * *", lateMaximumDelay="PT2M")
    state = fresh(spec)
    now = datetime(2026, 1, 5, 10, 10, 30, tzinfo=UTC)
    decision = decide(spec, state, now)
    assert decision.fire is not None
    assert decision.fire.date == datetime(2026, 1, 5, 10, 9, tzinfo=UTC)  # within 2 minutes


def test_late_maximum_delay_lets_a_tick_within_the_delay_fire() -> None:
    spec = spec_of(cron="* * * * *", lateMaximumDelay="PT5M")
    decision = decide(spec, fresh(spec), datetime(2026, 1, 5, 10, 3, tzinfo=UTC))
    assert decision.fire is not None
    assert decision.fire.date == datetime(2026, 1, 5, 10, 1, tzinfo=UTC)


def test_a_false_condition_skips_the_tick() -> None:
    spec = spec_of(cron="* * * * *")
    now = datetime(2026, 1, 5, 10, 1, tzinfo=UTC)
    decision = decide(spec, fresh(spec), now, holds=lambda tick: False)
    assert decision.fire is None
    assert decision.state.next_execution_date == datetime(2026, 1, 5, 10, 2, tzinfo=UTC)


def test_schedule_on_dates_fires_each_date_once() -> None:
    spec = spec_of(
        dates=["2026-01-05T10:00:00Z", "2026-01-05T11:00:00+01:00", "2026-01-06T08:00:00"]
    )
    state = fresh(spec)
    fired = run(spec, state, datetime(2026, 1, 7, tzinfo=UTC))
    assert fired == [
        datetime(2026, 1, 5, 10, tzinfo=UTC),
        datetime(2026, 1, 6, 8, tzinfo=UTC),
    ]  # 11:00+01:00 is 10:00Z: one date


def test_schedule_on_dates_in_a_timezone_reads_naive_dates_there() -> None:
    spec = spec_of(dates=["2026-01-06T08:00:00"], timezone="Europe/Paris")
    assert spec.dates == (datetime(2026, 1, 6, 7, tzinfo=UTC),)


# --- backfill ------------------------------------------------------------------------------


def test_a_backfill_runs_each_past_tick_then_the_schedule_goes_on() -> None:
    spec = spec_of(cron="0 * * * *")
    now = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    state = new_state(spec, "main", "ns", "flow", now)
    state = start_backfill(
        spec, state, datetime(2026, 1, 5, 0, tzinfo=UTC), datetime(2026, 1, 5, 9, tzinfo=UTC), now
    )
    fired = []
    for _ in range(20):
        decision = decide(spec, state, now, lock=Lock.ENDED)
        state = decision.state
        if decision.fire is not None:
            assert decision.fire.backfill is not None
            fired.append(decision.fire.date)
            state = replace(state, execution_id="x")
    assert fired == [datetime(2026, 1, 5, h, tzinfo=UTC) for h in range(10)]
    assert state.backfill is None
    assert state.next_execution_date == datetime(2026, 1, 5, 11, tzinfo=UTC)


def test_a_paused_backfill_holds_the_trigger() -> None:
    spec = spec_of(cron="0 * * * *")
    now = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    state = start_backfill(spec, fresh(spec, now), now - timedelta(hours=3), now, now)
    assert state.backfill is not None
    paused = replace(state, backfill=replace(state.backfill, paused=True))
    assert decide(spec, paused, now).fire is None


def test_tick_ids_are_stable_and_tell_backfills_apart() -> None:
    spec = spec_of(cron="0 * * * *")
    state = fresh(spec)
    tick = Tick(datetime(2026, 1, 5, 9, tzinfo=UTC), None, None)
    assert tick_execution_id(state, tick) == tick_execution_id(state, tick)
    assert len(tick_execution_id(state, tick)) == 22
    first = start_backfill(spec, state, T0, T0, T0).backfill
    second = start_backfill(spec, state, T0, T0, T0 + timedelta(seconds=1)).backfill
    assert tick_execution_id(state, replace(tick, backfill=first)) != tick_execution_id(
        state, replace(tick, backfill=second)
    )
    assert tick_execution_id(state, replace(tick, backfill=first)) != tick_execution_id(state, tick)


# --- conditions ----------------------------------------------------------------------------


def _render(template: str, context: Any) -> Any:
    if template == "{{ trigger.date }}":
        return context["trigger"]["date"]
    return template.replace("{{ ", "").replace(" }}", "")


FLOW = parse_flow(
    "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: m\n"
)


def schedule_conditions_hold(conditions: Any, variables: dict[str, Any], render: Any) -> bool:
    """The scheduler's question: the tick's variables, ``now`` at the tick."""
    now = datetime.fromisoformat(variables["trigger"]["date"].replace("Z", "+00:00"))
    context = ConditionContext(flow=FLOW, now=now, render=render, variables=variables)
    return conditions_hold(conditions, context)


def test_expression_and_day_week_conditions() -> None:
    context = {"trigger": {"date": "2026-01-05T10:00:00Z"}}  # a Monday
    expression = ConditionSpec(
        "io.kestra.plugin.core.condition.Expression", "c", {"expression": "{{ true }}"}
    )
    falsy = ConditionSpec(
        "io.kestra.plugin.core.condition.Expression", "c", {"expression": "{{ false }}"}
    )
    monday = ConditionSpec("io.kestra.plugin.core.condition.DayWeek", "c", {"dayOfWeek": "MONDAY"})
    friday = ConditionSpec("io.kestra.plugin.core.condition.DayWeek", "c", {"dayOfWeek": "FRIDAY"})
    assert schedule_conditions_hold((expression, monday), context, _render)
    assert not schedule_conditions_hold((falsy,), context, _render)
    assert not schedule_conditions_hold((friday,), context, _render)


# --- the corpus ------------------------------------------------------------------------------

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "kestra-flows"
SCHEDULED = [
    path
    for path in sorted((CORPUS / "valid").glob("*.y*ml"))
    if "Schedule" in path.read_text(encoding="utf-8")
]


def test_the_corpus_has_scheduled_flows() -> None:
    assert len(SCHEDULED) >= 4


@pytest.mark.parametrize("path", SCHEDULED, ids=lambda p: p.name)
def test_corpus_schedule_triggers_can_be_scheduled(path: Path) -> None:
    flow = parse_flow(path.read_text(encoding="utf-8"))
    schedules = [t for t in flow.triggers if t.type in SCHEDULE_TYPES]
    assert schedules
    for trigger in schedules:
        spec = schedule_spec(trigger)
        state = new_state(spec, "main", flow.namespace, flow.id, T0)
        assert state.next_execution_date is not None
        assert state.next_execution_date > T0


def test_legacy_schedule_conditions_are_read_as_conditions() -> None:
    spec = spec_of(
        cron="* * * * *",
        scheduleConditions=[
            {
                "type": "io.kestra.core.models.conditions.types.DayWeekCondition",
                "dayOfWeek": "MONDAY",
            }
        ],
    )
    [condition] = spec.conditions
    assert condition.properties == {"dayOfWeek": "MONDAY"}
    assert schedule_conditions_hold(
        spec.conditions, {"trigger": {"date": "2026-01-05T10:00:00Z"}}, _render
    )
    assert not schedule_conditions_hold(
        spec.conditions, {"trigger": {"date": "2026-01-06T10:00:00Z"}}, _render
    )
