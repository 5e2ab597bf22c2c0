"""Base property models and the property types shared by every task family.

A typed property accepts a literal of its type or a Pebble expression (a string containing
``{{`` or ``{%``), which is checked after rendering at run time. Plain YAML scalars are coerced
by the declared type as Kestra's Jackson mapping does (``"3"`` for an int, ``3`` for a string).
Imports pydantic and the standard library only.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

TASK = "task"
TRIGGER = "trigger"
CONDITION = "condition"

_DURATION_RE = re.compile(
    r"^[-+]?P(?!$)(?:\d+(?:[.,]\d+)?Y)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?W)?"
    r"(?:\d+(?:[.,]\d+)?D)?(?:T(?=[\d.,+-])(?:[-+]?\d+(?:[.,]\d+)?H)?(?:[-+]?\d+(?:[.,]\d+)?M)?"
    r"(?:[-+]?\d+(?:[.,]\d+)?S)?)?$",
    re.IGNORECASE,
)


def is_expression(value: object) -> bool:
    """Whether a value is a Pebble template (checked after rendering, not at save time)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _or_expression(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if is_expression(value):
        return value
    return handler(value)


def _scalar_to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _check_duration(value: Any) -> Any:
    if isinstance(value, timedelta) or is_expression(value):
        return value
    if isinstance(value, str) and _DURATION_RE.match(value.strip()):
        return value
    raise ValueError(f"invalid ISO-8601 duration: {value!r}")


DYNAMIC = WrapValidator(_or_expression)
# Wrap validators keep one type per property (no unions), so errors name the property itself.

Expression = Annotated[str, AfterValidator(lambda v: v if is_expression(v) else _no_expr(v))]
"""A Pebble template string."""

Text = Annotated[str, BeforeValidator(_scalar_to_text)]
"""A string; YAML numbers and booleans are read as their text."""

Int = Annotated[int, DYNAMIC]
Float = Annotated[float, DYNAMIC]
Bool = Annotated[bool, DYNAMIC]
Duration = Annotated[str, BeforeValidator(_check_duration)]
"""An ISO-8601 duration (``PT1S``) or an expression."""
AnyList = Annotated[list[Any], DYNAMIC]
StrList = Annotated[list[Text], DYNAMIC]
AnyMap = Annotated[dict[str, Any], DYNAMIC]
StrMap = Annotated[dict[str, Text], DYNAMIC]
TaskList = list[Any]
"""Child tasks; each item is validated as a task on its own by the parser."""


def _no_expr(value: str) -> str:
    raise ValueError("not a Pebble expression")


LogLevel = Annotated[Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"], DYNAMIC]
StateName = Literal[
    "CREATED", "SUBMITTED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "SUCCESS", "WARNING",
    "FAILED", "KILLED", "CANCELLED", "QUEUED", "RETRYING", "RETRIED", "SKIPPED", "BREAKPOINT",
    "RESUBMITTED",
]  # fmt: skip
StateList = Annotated[list[StateName], DYNAMIC]


class Strict(BaseModel):
    """A property object that rejects unknown keys (Kestra's flow YAML is strict)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConstantRetry(Strict):
    type: Literal["constant"]
    interval: Duration
    maxAttempt: Int | None = None
    maxDuration: Duration | None = None
    warningOnRetry: Bool | None = None
    behavior: Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] | None = None


class ExponentialRetry(Strict):
    type: Literal["exponential"]
    interval: Duration
    maxInterval: Duration
    delayFactor: Float | None = None
    maxAttempt: Int | None = None
    maxDuration: Duration | None = None
    warningOnRetry: Bool | None = None
    behavior: Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] | None = None


class RandomRetry(Strict):
    type: Literal["random"]
    minInterval: Duration
    maxInterval: Duration
    maxAttempt: Int | None = None
    maxDuration: Duration | None = None
    warningOnRetry: Bool | None = None
    behavior: Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] | None = None


Retry = Annotated[ConstantRetry | ExponentialRetry | RandomRetry, Field(discriminator="type")]


class WorkerGroup(Strict):
    key: Text | None = None
    fallback: Literal["FAIL", "WAIT", "CANCEL"] | None = None


class Plugin(Strict):
    """Base of every property model; the class variables describe the type to the registry."""

    TYPE: ClassVar[str] = ""
    ALIASES: ClassVar[tuple[str, ...]] = ()
    KIND: ClassVar[str] = TASK
    IS_FLOWABLE: ClassVar[bool] = False
    BRANCHES: ClassVar[tuple[str, ...]] = ()
    """Properties holding child task lists (``cases`` is a map of lists, Dag ``tasks`` wraps)."""
    DEPRECATED: ClassVar[bool] = False
    IS_EXECUTABLE: ClassVar[bool] = False
    """Starts another flow (``namespace``/``flowId`` properties): checked for recursion."""
    IS_RUN_BY_ENGINE: ClassVar[bool] = False
    """Run by the engine itself rather than by a ``run`` method (``Subflow``)."""
    IS_UNRESOLVED: ClassVar[bool] = False
    """A flowable type the executor has no resolution for yet (flows using it are refused)."""
    REFUSAL: ClassVar[str] = ""
    """Why flows using this type are refused at save, when it never will run here."""

    type: str


class Task(Plugin):
    """Base properties of every task.

    A runnable task type adds ``async def run(self, ctx: RunContext) -> Outputs`` (see
    :mod:`lanner.tasks.context`); a type without it (and not flowable) has no runtime here:
    flows using it are refused when saved. Flowable types are resolved by the executor.
    """

    id: str = Field(min_length=1)
    description: Text | None = None
    retry: Retry | None = None
    timeout: Duration | None = None
    disabled: Bool = False
    workerGroup: WorkerGroup | None = None
    logLevel: LogLevel | None = None
    allowFailure: Bool = False
    allowWarning: Bool = False
    logToFile: Bool = False
    runIf: Text = "true"


class FlowableTask(Task):
    """A task resolved by the executor; ``errors``/``finally`` are local error/cleanup branches."""

    IS_FLOWABLE: ClassVar[bool] = True
    BRANCHES: ClassVar[tuple[str, ...]] = ("tasks", "errors", "finally")

    errors: TaskList | None = None
    finally_: TaskList | None = Field(default=None, alias="finally")


class Trigger(Plugin):
    """Base properties of every trigger."""

    KIND: ClassVar[str] = TRIGGER

    id: str = Field(min_length=1)
    description: Text | None = None
    conditions: list[dict[str, Any]] | None = None
    disabled: Bool = False
    workerGroup: WorkerGroup | None = None
    logLevel: LogLevel | None = None
    logToFile: Bool = False
    stopAfter: StateList | None = None
    labels: dict[str, Any] | list[dict[str, Any]] | None = None
    allowConcurrent: Bool | None = None


class Condition(Plugin):
    """Base of every condition."""

    KIND: ClassVar[str] = CONDITION
