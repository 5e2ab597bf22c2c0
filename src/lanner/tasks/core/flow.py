"""Core ``flow.*`` tasks that the executor resolves into child task runs.

Child task lists are declared (so unknown keys are caught and the JSON schema shows them) but
their items are validated as tasks by the flow parser; here only their presence is checked.
``Sleep`` is the one runnable task of the family. Imports the domain and ``lanner.tasks`` only.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from lanner.domain.times import parse_duration
from lanner.tasks.base import (
    DYNAMIC,
    AnyList,
    AnyMap,
    Bool,
    Duration,
    FlowableTask,
    Int,
    Strict,
    StrList,
    Task,
    TaskList,
    Text,
)
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.failures import TaskFailure

CORE = "io.kestra.plugin.core.flow"
LEGACY = "io.kestra.core.tasks.flows"

NonEmptyTasks = Annotated[TaskList, Field(min_length=1)]


class Sequential(FlowableTask):
    """Run ``tasks`` one after the other."""

    TYPE: ClassVar[str] = f"{CORE}.Sequential"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Sequential",)

    tasks: TaskList | None = None


class Parallel(FlowableTask):
    """Run ``tasks`` at the same time, at most ``concurrent`` at once (0 = no limit)."""

    TYPE: ClassVar[str] = f"{CORE}.Parallel"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Parallel",)

    tasks: NonEmptyTasks
    concurrent: Int = 0


class If(FlowableTask):
    """Run ``then`` when ``condition`` renders truthy, ``else`` otherwise."""

    TYPE: ClassVar[str] = f"{CORE}.If"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.If",)
    BRANCHES: ClassVar[tuple[str, ...]] = ("then", "else", "errors", "finally")

    condition: Text | bool
    then: NonEmptyTasks
    else_: TaskList | None = Field(default=None, alias="else")


class Switch(FlowableTask):
    """Run the case matching the rendered ``value``, or ``defaults``."""

    TYPE: ClassVar[str] = f"{CORE}.Switch"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Switch",)
    BRANCHES: ClassVar[tuple[str, ...]] = ("cases", "defaults", "errors", "finally")

    value: Text
    cases: dict[str, TaskList] | None = None
    defaults: TaskList | None = None


class ForEach(FlowableTask):
    """Run ``tasks`` once per value, ``concurrencyLimit`` groups at once (0 = all)."""

    TYPE: ClassVar[str] = f"{CORE}.ForEach"

    values: AnyList | Text
    concurrencyLimit: Int = 1
    tasks: TaskList | None = None


class EachSequential(FlowableTask):
    """Deprecated ForEach, one value at a time."""

    TYPE: ClassVar[str] = f"{CORE}.EachSequential"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.EachSequential",)
    DEPRECATED: ClassVar[bool] = True

    value: AnyList | Text
    tasks: TaskList | None = None


class EachParallel(FlowableTask):
    """Deprecated ForEach, values in parallel."""

    TYPE: ClassVar[str] = f"{CORE}.EachParallel"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.EachParallel",)
    DEPRECATED: ClassVar[bool] = True

    value: AnyList | Text
    concurrent: Int = 0
    tasks: NonEmptyTasks


class DagTask(Strict):
    task: dict[str, Any]
    dependsOn: list[Text] | None = None


class Dag(FlowableTask):
    """Run tasks as soon as the tasks they depend on succeeded."""

    TYPE: ClassVar[str] = f"{CORE}.Dag"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Dag",)

    tasks: Annotated[list[DagTask], Field(min_length=1)]
    concurrent: Int = 0


class AllowFailure(FlowableTask):
    """Deprecated: failures of ``tasks`` end as WARNING (use the ``allowFailure`` property)."""

    TYPE: ClassVar[str] = f"{CORE}.AllowFailure"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.AllowFailure",)
    DEPRECATED: ClassVar[bool] = True

    tasks: TaskList | None = None


class NamespaceFiles(Strict):
    enabled: Bool = True
    include: StrList | None = None
    exclude: StrList | None = None
    namespaces: StrList | None = None
    folderPerNamespace: Bool | None = None
    ifExists: Literal["OVERWRITE", "FAIL", "WARN", "IGNORE"] | None = None


class Cache(Strict):
    patterns: Annotated[list[Text], Field(min_length=1)]
    ttl: Duration | None = None


class WorkingDirectory(FlowableTask):
    """Run runnable ``tasks`` sharing one working directory on one worker."""

    TYPE: ClassVar[str] = f"{CORE}.WorkingDirectory"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.WorkingDirectory", f"{LEGACY}.Worker")

    tasks: TaskList | None = None
    inputFiles: dict[str, Any] | Text | None = None
    outputFiles: StrList | None = None
    namespaceFiles: NamespaceFiles | None = None
    cache: Cache | None = None


class Pause(FlowableTask):
    """Pause the execution until resumed or until ``delay``/``pauseDuration`` elapses."""

    TYPE: ClassVar[str] = f"{CORE}.Pause"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Pause",)

    delay: Duration | None = None
    timeout: Duration | None = None
    pauseDuration: Duration | None = None
    behavior: Annotated[Literal["RESUME", "WARN", "FAIL", "CANCEL"], DYNAMIC] | None = None
    onResume: list[dict[str, Any]] | None = None
    onPause: dict[str, Any] | None = None
    tasks: TaskList | None = None


class CheckFrequency(Strict):
    maxIterations: Int | None = None
    maxDuration: Duration | None = None
    interval: Duration | None = None


class LoopUntil(FlowableTask):
    """Run ``tasks`` again until ``condition`` is truthy (0.20 ``WaitFor``)."""

    TYPE: ClassVar[str] = f"{CORE}.LoopUntil"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{CORE}.WaitFor",)

    tasks: NonEmptyTasks
    condition: Text | bool
    failOnMaxReached: Bool = False
    checkFrequency: CheckFrequency | None = None


class LoopOutput(Strict):
    """One declared output of a Loop, rendered in each iteration (a flow output's shape)."""

    id: Annotated[str, Field(pattern=r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$")]
    type: Literal[
        "STRING", "INT", "FLOAT", "BOOLEAN", "DATETIME", "DATE", "TIME", "DURATION", "JSON",
        "URI", "FILE", "ARRAY", "YAML", "SECRET", "EMAIL", "SELECT", "MULTISELECT", "ENUM",
    ] = "STRING"  # fmt: skip
    value: Any
    required: Bool = True
    description: Text | None = None
    displayName: Text | None = None


class Loop(FlowableTask):
    """Run ``tasks`` once per value of a list or a map (2.0's replacement of ForEach and
    ForEachItem), ``concurrencyLimit`` iterations at once (0 = all); iterations run in place
    (see ``lanner.engine.loops``)."""

    TYPE: ClassVar[str] = f"{CORE}.Loop"

    values: AnyList | AnyMap | Text
    concurrencyLimit: Annotated[int, Field(ge=0), DYNAMIC] = 0
    transmitFailed: Bool = True
    outputs: list[LoopOutput] | None = None
    fetchType: Literal["AUTO", "FETCH", "STORE"] = "AUTO"
    breakWhen: Text | None = None
    tasks: NonEmptyTasks

    @field_validator("breakWhen")
    @classmethod
    def _no_break(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("breakWhen is not supported by this server yet")
        return value

    @field_validator("fetchType")
    @classmethod
    def _no_store(cls, value: str) -> str:
        if value == "STORE":
            raise ValueError("STORE (outputs in internal storage) is not supported yet: use FETCH")
        return value


class Approval(Pause):
    """Pause waiting for a human decision (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.Approval"
    ALIASES: ClassVar[tuple[str, ...]] = ()


class Sleep(Task):
    """Wait ``duration`` (a runnable task)."""

    TYPE: ClassVar[str] = f"{CORE}.Sleep"

    duration: Duration

    async def run(self, ctx: RunContext) -> Outputs:
        text = await ctx.render(self.duration) or ""
        duration = parse_duration(text)
        if duration is None:
            raise TaskFailure(f"invalid duration: {text!r}")
        await asyncio.sleep(max(duration.total_seconds(), 0.0))
        return None


MODELS: tuple[type[Task], ...] = (
    Sequential, Parallel, If, Switch, ForEach, EachSequential, EachParallel, Dag, AllowFailure,
    WorkingDirectory, Pause, LoopUntil, Loop, Approval, Sleep,
)  # fmt: skip
