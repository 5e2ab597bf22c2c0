"""Core ``execution.*`` tasks (0.20 and the 1.x additions); ``Fail`` runs, the others have no
runtime yet.

Imports ``lanner.tasks`` only.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from lanner.tasks.base import (
    DYNAMIC,
    AnyMap,
    Bool,
    Int,
    StateList,
    Strict,
    StrList,
    Task,
    Text,
)
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.failures import TaskFailure
from lanner.tasks.values import is_truthy

CORE = "io.kestra.plugin.core.execution"
LEGACY = "io.kestra.core.tasks.executions"


class Fail(Task):
    """Fail the task (and the execution) when ``condition`` is truthy or absent."""

    TYPE: ClassVar[str] = f"{CORE}.Fail"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Fail",)

    condition: Text | None = None
    errorMessage: Text = "Task failure"

    async def run(self, ctx: RunContext) -> Outputs:
        message = await ctx.render(self.errorMessage) or "Task failure"
        if "condition" not in self.model_fields_set:
            raise TaskFailure(message)
        if is_truthy(await ctx.render_typed(self.condition)):
            raise TaskFailure(message)
        return None


class Labels(Task):
    """Add labels to the running execution."""

    TYPE: ClassVar[str] = f"{CORE}.Labels"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Labels",)

    labels: Annotated[dict[str, Any] | list[dict[str, Any]], DYNAMIC]


class CountFlow(Strict):
    namespace: Text | None = None
    flowId: Text | None = None


class Count(Task):
    """Count executions of some flows and evaluate ``expression`` on the counts."""

    TYPE: ClassVar[str] = f"{CORE}.Count"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Counts",)

    flows: list[CountFlow] | None = None
    states: StateList | None = None
    startDate: Text
    endDate: Text | None = None
    expression: Text
    namespaces: StrList | None = None


class Resume(Task):
    """Resume a paused execution (the current one by default)."""

    TYPE: ClassVar[str] = f"{CORE}.Resume"

    namespace: Text | None = None
    flowId: Text | None = None
    executionId: Text | None = None
    inputs: AnyMap | None = None


class PurgeExecutions(Task):
    """Purge executions, logs, metrics and storage matching filters and a date range."""

    TYPE: ClassVar[str] = f"{CORE}.PurgeExecutions"
    ALIASES: ClassVar[tuple[str, ...]] = (
        "io.kestra.core.tasks.storages.Purge",
        "io.kestra.plugin.core.storage.Purge",
    )

    namespace: Text | None = None
    flowId: Text | None = None
    startDate: Text | None = None
    endDate: Text
    states: StateList | None = None
    purgeExecution: Bool = True
    purgeLog: Bool = True
    purgeMetric: Bool = True
    purgeStorage: Bool = True
    batchSize: Int | None = None


class Exit(Task):
    """End the execution now with ``state`` (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.Exit"

    state: Annotated[Literal["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELLED"], DYNAMIC] = (
        "SUCCESS"
    )


class Assert(Task):
    """Fail when one of the ``conditions`` is falsy (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.Assert"

    conditions: StrList
    errorMessage: Text | None = None


class SetVariables(Task):
    """Set execution variables (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.SetVariables"

    variables: AnyMap
    overwrite: Bool = True


class UnsetVariables(Task):
    """Remove execution variables (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.UnsetVariables"

    variables: StrList
    ignoreMissing: Bool = False


class Kill(Task):
    """Kill an execution, the current one by default (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.Kill"

    executionId: Text | None = None
    propagateKill: Bool = True


MODELS: tuple[type[Task], ...] = (
    Fail, Labels, Count, Resume, PurgeExecutions, Exit, Assert, SetVariables, UnsetVariables, Kill,
)  # fmt: skip
