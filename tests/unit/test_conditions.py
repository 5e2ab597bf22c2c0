"""Every condition type, evaluated without a database or a clock (``engine/conditions.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lanner.domain.executions import Execution, State
from lanner.domain.labels import Label
from lanner.domain.states import StateType
from lanner.engine.conditions import (
    ConditionContext,
    ConditionError,
    TimeWindow,
    condition_holds,
    conditions_hold,
    window_bounds,
)
from lanner.flows import parse_flow
from lanner.templating import TemplateEngine

C = "io.kestra.plugin.core.condition"
LEGACY = "io.kestra.core.models.conditions.types"
NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)  # a Saturday
FLOW = parse_flow(
    "id: down\nnamespace: company.team\ntasks:\n"
    "  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n"
)
TEMPLATES = TemplateEngine()


def upstream(
    state: StateType = StateType.SUCCESS,
    *,
    namespace: str = "company.team.sub",
    flow_id: str = "up",
    labels: tuple[Label, ...] = (),
    outputs: dict[str, Any] | None = None,
    attempt: int = 1,
) -> Execution:
    return Execution(
        id="exec1",
        tenant_id="main",
        namespace=namespace,
        flow_id=flow_id,
        flow_revision=1,
        state=State.of(state, NOW),
        labels=labels,
        outputs=outputs or {},
        attempt_number=attempt,
    )


def ctx(
    execution: Execution | None = None,
    *,
    now: datetime = NOW,
    variables: dict[str, Any] | None = None,
    windows: dict[str, dict[str, bool]] | None = None,
) -> ConditionContext:
    return ConditionContext(
        flow=FLOW,
        now=now,
        render=TEMPLATES.render_typed,
        execution=execution,
        variables=variables or {},
        windows=windows or {},
    )


def holds(condition: dict[str, Any], context: ConditionContext) -> bool:
    return condition_holds(condition, context)


def test_execution_status_in_and_not_in() -> None:
    assert holds({"type": f"{C}.ExecutionStatus", "in": ["SUCCESS"]}, ctx(upstream()))
    assert not holds({"type": f"{C}.ExecutionStatus", "in": ["FAILED"]}, ctx(upstream()))
    failed = ctx(upstream(StateType.FAILED))
    assert not holds({"type": f"{C}.ExecutionStatus", "notIn": ["FAILED"]}, failed)
    legacy = {"type": f"{LEGACY}.ExecutionStatusCondition", "in": ["FAILED", "WARNING"]}
    assert holds(legacy, failed)
    with pytest.raises(ConditionError):
        holds({"type": f"{C}.ExecutionStatus", "in": ["SUCCESS"]}, ctx(None))


def test_execution_flow() -> None:
    condition = {"type": f"{C}.ExecutionFlow", "namespace": "company.team.sub", "flowId": "up"}
    assert holds(condition, ctx(upstream()))
    assert not holds(condition, ctx(upstream(flow_id="other")))
    legacy = {**condition, "type": f"{LEGACY}.ExecutionFlowCondition"}
    assert holds(legacy, ctx(upstream()))


def test_execution_namespace_comparisons() -> None:
    run = ctx(upstream())
    kind = f"{C}.ExecutionNamespace"
    assert holds({"type": kind, "namespace": "company.team.sub"}, run)
    assert not holds({"type": kind, "namespace": "company"}, run)
    assert holds({"type": kind, "namespace": "company", "prefix": True}, run)
    assert holds({"type": kind, "namespace": "company", "comparison": "PREFIX"}, run)
    assert holds({"type": kind, "namespace": "team.sub", "comparison": "SUFFIX"}, run)
    assert not holds({"type": kind, "namespace": "team", "comparison": "SUFFIX"}, run)


def test_execution_labels_map_and_list() -> None:
    run = ctx(upstream(labels=(Label("env", "prod"), Label("team", "data"))))
    kind = f"{C}.ExecutionLabels"
    assert holds({"type": kind, "labels": {"env": "prod"}}, run)
    assert holds({"type": kind, "labels": [{"key": "team", "value": "data"}]}, run)
    assert not holds({"type": kind, "labels": {"env": "dev"}}, run)


def test_execution_outputs_reads_trigger_outputs() -> None:
    kind = f"{C}.ExecutionOutputs"
    condition = {"type": kind, "expression": "{{ trigger.outputs.count > 2 }}"}
    assert holds(condition, ctx(upstream(outputs={"count": 3})))
    assert not holds(condition, ctx(upstream(outputs={"count": 1})))
    assert not holds(condition, ctx(upstream()))  # no outputs at all: false


def test_expression_truth_and_failure() -> None:
    kind = f"{C}.Expression"
    run = ctx(upstream(), variables={"labels": {"some": "label"}})
    assert holds({"type": kind, "expression": "{{ labels.some == 'label' }}"}, run)
    assert not holds({"type": kind, "expression": "{{ labels.some == 'x' }}"}, run)
    assert not holds({"type": kind, "expression": "  "}, run)
    with pytest.raises(ConditionError):
        holds({"type": kind, "expression": "{{ nothing.here }}"}, run)
    assert not conditions_hold([{"type": kind, "expression": "{{ nothing.here }}"}], run)
    legacy = {"type": f"{LEGACY}.VariableCondition", "expression": "{{ 1 == 1 }}"}
    assert holds(legacy, run)


def test_has_retry_attempt() -> None:
    kind = f"{C}.HasRetryAttempt"
    assert not holds({"type": kind}, ctx(upstream()))
    assert holds({"type": kind, "in": ["SUCCESS"]}, ctx(upstream(attempt=2)))


def test_not_and_or() -> None:
    success = {"type": f"{C}.ExecutionStatus", "in": ["SUCCESS"]}
    failed = {"type": f"{C}.ExecutionStatus", "in": ["FAILED"]}
    run = ctx(upstream())
    assert holds({"type": f"{C}.Or", "conditions": [failed, success]}, run)
    assert not holds({"type": f"{C}.Or", "conditions": [failed]}, run)
    assert holds({"type": f"{C}.Not", "conditions": [failed]}, run)
    assert not holds({"type": f"{LEGACY}.NotCondition", "conditions": [failed, success]}, run)


def test_day_week_and_weekend() -> None:
    saturday = ctx(upstream())
    assert holds({"type": f"{C}.DayWeek", "dayOfWeek": "SATURDAY"}, saturday)
    assert not holds({"type": f"{C}.DayWeek", "dayOfWeek": "MONDAY"}, saturday)
    assert holds({"type": f"{C}.Weekend"}, saturday)
    monday = ctx(upstream(), now=NOW + timedelta(days=2))
    assert not holds({"type": f"{LEGACY}.WeekendCondition"}, monday)
    by_trigger_date = ctx(variables={"trigger": {"date": "2026-12-07T08:00:00Z"}})  # Monday
    assert holds({"type": f"{C}.DayWeek", "dayOfWeek": "MONDAY"}, by_trigger_date)
    explicit = {"type": f"{C}.DayWeek", "dayOfWeek": "FRIDAY", "date": "2026-12-04"}
    assert holds(explicit, ctx())


def test_day_week_in_month() -> None:
    kind = f"{C}.DayWeekInMonth"
    first_saturday = {"type": kind, "dayOfWeek": "SATURDAY", "dayInMonth": "FIRST"}
    assert holds(first_saturday, ctx())  # 2026-12-05 is December's first Saturday
    assert not holds({**first_saturday, "dayInMonth": "SECOND"}, ctx())
    last_thursday = {"type": kind, "dayOfWeek": "THURSDAY", "dayInMonth": "LAST"}
    assert holds({**last_thursday, "date": "2026-12-31"}, ctx())
    assert not holds({**last_thursday, "date": "2026-12-24"}, ctx())


def test_date_time_between_and_time_between() -> None:
    kind = f"{C}.DateTimeBetween"
    assert holds({"type": kind, "after": "2026-12-01T00:00:00Z"}, ctx())
    assert not holds({"type": kind, "before": "2026-12-01T00:00:00Z"}, ctx())
    window = {"after": "2026-12-05T10:00:00Z", "before": "2026-12-05T11:00:00+00:00"}
    assert holds({"type": f"{LEGACY}.DateTimeBetweenCondition", **window}, ctx())
    with pytest.raises(ConditionError):
        holds({"type": kind}, ctx())
    assert holds({"type": f"{C}.TimeBetween", "after": "10:00:00Z", "before": "11:00:00Z"}, ctx())
    assert not holds({"type": f"{C}.TimeBetween", "after": "12:00:00+01:00"}, ctx())


def test_public_holiday() -> None:
    kind = f"{C}.PublicHoliday"
    assert holds({"type": kind, "date": "2026-07-14", "country": "FR"}, ctx())
    assert not holds({"type": kind, "date": "2026-07-15", "country": "FR"}, ctx())
    assert holds({"type": kind, "date": "2026-07-04", "country": "US"}, ctx())
    with pytest.raises(ConditionError):
        holds({"type": kind, "date": "2026-07-14"}, ctx())  # no server locale: a country


def test_multiple_condition_reads_its_window() -> None:
    condition = {
        "type": f"{C}.MultipleCondition",
        "id": "both",
        "conditions": {"a": {}, "b": {}},
    }
    assert not holds(condition, ctx(windows={"both": {"a": True}}))
    assert holds(condition, ctx(windows={"both": {"a": True, "b": True}}))


def test_unknown_condition_cannot_be_evaluated() -> None:
    assert not conditions_hold([{"type": "com.example.Nope"}], ctx(upstream()))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("window", "now", "start", "end"),
    [
        ({}, "2026-12-05T10:30:12+00:00", "2026-12-05T00:00:00+00:00", "2026-12-05T23:59:59.999+00:00"),
        ({"window": "PT6H", "windowAdvance": "PT6H"}, "2026-12-05T10:30:00+00:00",
         "2026-12-05T16:00:00+00:00", "2026-12-05T21:59:59.999+00:00"),
        ({"window": "PT10M"}, "2026-12-05T10:34:50+00:00",
         "2026-12-05T10:30:00+00:00", "2026-12-05T10:39:59.999+00:00"),
        ({"type": "SLIDING_WINDOW", "window": "PT1H"}, "2026-12-05T10:30:12+00:00",
         "2026-12-05T10:30:12+00:00", "2026-12-05T11:30:12+00:00"),
        ({"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00"}, "2026-12-05T08:00:00+00:00",
         "2026-12-05T00:00:00+00:00", "2026-12-05T09:00:00+00:00"),
        ({"type": "DAILY_TIME_WINDOW", "startTime": "06:00:00", "endTime": "09:00:00"},
         "2026-12-05T08:00:00+00:00", "2026-12-05T06:00:00+00:00", "2026-12-05T09:00:00+00:00"),
    ],
)  # fmt: skip
def test_window_bounds(window: dict[str, str], now: str, start: str, end: str) -> None:
    assert window_bounds(TimeWindow.of(window), at(now)) == (at(start), at(end))
