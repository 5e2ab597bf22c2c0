"""Core conditions (``condition.*``) for triggers and listeners.

Each accepts the legacy ``io.kestra.core.models.conditions.types.<Name>Condition`` and
``io.kestra.plugin.core.condition.<Name>Condition`` spellings. Conditions that hold other
conditions list those properties in ``NESTED``; the parser validates them too.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from lanner.tasks.base import DYNAMIC, Bool, Condition, Duration, StateList, Text

CORE = "io.kestra.plugin.core.condition"
LEGACY = "io.kestra.core.models.conditions.types"

DayOfWeek = Annotated[
    Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"], DYNAMIC
]


def _aliases(name: str) -> tuple[str, ...]:
    return (f"{LEGACY}.{name}Condition", f"{CORE}.{name}Condition")


class ExecutionFlow(Condition):
    TYPE: ClassVar[str] = f"{CORE}.ExecutionFlow"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("ExecutionFlow")

    namespace: Text
    flowId: Text


class ExecutionNamespace(Condition):
    TYPE: ClassVar[str] = f"{CORE}.ExecutionNamespace"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("ExecutionNamespace")

    namespace: Text
    comparison: Annotated[Literal["EQUALS", "PREFIX", "SUFFIX"], DYNAMIC] | None = None
    prefix: Bool = False


class ExecutionStatus(Condition):
    TYPE: ClassVar[str] = f"{CORE}.ExecutionStatus"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("ExecutionStatus")

    in_: StateList | None = Field(default=None, alias="in")
    notIn: StateList | None = None


class ExecutionLabels(Condition):
    TYPE: ClassVar[str] = f"{CORE}.ExecutionLabels"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("ExecutionLabels")

    labels: dict[str, Any] | list[dict[str, Any]]


class ExecutionOutputs(Condition):
    TYPE: ClassVar[str] = f"{CORE}.ExecutionOutputs"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("ExecutionOutputs")

    expression: Text


class ExpressionCondition(Condition):
    TYPE: ClassVar[str] = f"{CORE}.Expression"
    ALIASES: ClassVar[tuple[str, ...]] = (
        f"{LEGACY}.VariableCondition",
        f"{CORE}.ExpressionCondition",
    )

    expression: Text


class HasRetryAttempt(Condition):
    TYPE: ClassVar[str] = f"{CORE}.HasRetryAttempt"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("HasRetryAttempt")

    in_: StateList | None = Field(default=None, alias="in")
    notIn: StateList | None = None


class MultipleCondition(Condition):
    TYPE: ClassVar[str] = f"{CORE}.MultipleCondition"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.MultipleCondition",)
    NESTED: ClassVar[tuple[str, ...]] = ("conditions",)

    id: Text
    window: Duration | None = None
    windowAdvance: Duration | None = None
    timeWindow: dict[str, Any] | None = None
    resetOnSuccess: Bool = True
    conditions: dict[str, dict[str, Any]]


class Not(Condition):
    TYPE: ClassVar[str] = f"{CORE}.Not"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("Not")
    NESTED: ClassVar[tuple[str, ...]] = ("conditions",)

    conditions: list[dict[str, Any]]


class Or(Condition):
    TYPE: ClassVar[str] = f"{CORE}.Or"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("Or")
    NESTED: ClassVar[tuple[str, ...]] = ("conditions",)

    conditions: list[dict[str, Any]]


class DateTimeBetween(Condition):
    TYPE: ClassVar[str] = f"{CORE}.DateTimeBetween"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("DateTimeBetween")

    date: Text = "{{ trigger.date }}"
    after: Text | None = None
    before: Text | None = None


class DayWeek(Condition):
    TYPE: ClassVar[str] = f"{CORE}.DayWeek"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("DayWeek")

    date: Text = "{{ trigger.date }}"
    dayOfWeek: DayOfWeek


class DayWeekInMonth(Condition):
    TYPE: ClassVar[str] = f"{CORE}.DayWeekInMonth"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("DayWeekInMonth")

    date: Text = "{{ trigger.date }}"
    dayOfWeek: DayOfWeek
    dayInMonth: Annotated[Literal["FIRST", "LAST", "SECOND", "THIRD", "FOURTH"], DYNAMIC]


class PublicHoliday(Condition):
    TYPE: ClassVar[str] = f"{CORE}.PublicHoliday"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("PublicHoliday")

    date: Text = "{{ trigger.date }}"
    country: Text | None = None
    subDivision: Text | None = None


class TimeBetween(Condition):
    TYPE: ClassVar[str] = f"{CORE}.TimeBetween"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("TimeBetween")

    date: Text = "{{ trigger.date }}"
    after: Text | None = None
    before: Text | None = None


class Weekend(Condition):
    TYPE: ClassVar[str] = f"{CORE}.Weekend"
    ALIASES: ClassVar[tuple[str, ...]] = _aliases("Weekend")

    date: Text = "{{ trigger.date }}"


class FlowCondition(Condition):
    TYPE: ClassVar[str] = f"{CORE}.FlowCondition"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.FlowCondition",)
    DEPRECATED: ClassVar[bool] = True

    namespace: Text
    flowId: Text


class FlowNamespaceCondition(Condition):
    TYPE: ClassVar[str] = f"{CORE}.FlowNamespaceCondition"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.FlowNamespaceCondition",)
    DEPRECATED: ClassVar[bool] = True

    namespace: Text
    prefix: Bool = False


MODELS: tuple[type[Condition], ...] = (
    ExecutionFlow, ExecutionNamespace, ExecutionStatus, ExecutionLabels, ExecutionOutputs,
    ExpressionCondition, HasRetryAttempt, MultipleCondition, Not, Or, DateTimeBetween, DayWeek,
    DayWeekInMonth, PublicHoliday, TimeBetween, Weekend, FlowCondition, FlowNamespaceCondition,
)  # fmt: skip
