"""Core triggers (``trigger.*``, ``http.Trigger``) and the ``trigger.Toggle`` task."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, ClassVar, Literal

from lanner.errors import ConcurrentUpdateError
from lanner.tasks.base import (
    DYNAMIC,
    AnyMap,
    Bool,
    Duration,
    Plugin,
    StateList,
    Strict,
    StrList,
    Task,
    Text,
    Trigger,
)
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.core.http import HttpProperties
from lanner.tasks.failures import TaskFailure
from lanner.tasks.values import as_flag

CORE = "io.kestra.plugin.core"
LEGACY = "io.kestra.core.models.triggers.types"

TOGGLE_ATTEMPTS = 5

Recover = Annotated[Literal["LAST", "NONE", "ALL"], DYNAMIC]


class Schedule(Trigger):
    """Start executions on a cron schedule."""

    TYPE: ClassVar[str] = f"{CORE}.trigger.Schedule"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Schedule",)

    cron: Text
    withSeconds: Bool = False
    timezone: Text | None = None
    interval: Duration | None = None
    scheduleConditions: list[dict[str, Any]] | None = None
    inputs: AnyMap | None = None
    lateMaximumDelay: Duration | None = None
    backfill: dict[str, Any] | None = None
    recoverMissedSchedules: Recover | None = None


class ScheduleOnDates(Trigger):
    """Start executions at fixed dates."""

    TYPE: ClassVar[str] = f"{CORE}.trigger.ScheduleOnDates"

    dates: StrList
    timezone: Text | None = None
    interval: Duration | None = None
    inputs: AnyMap | None = None
    recoverMissedSchedules: Recover | None = None


class UpstreamFlow(Strict):
    namespace: Text
    flowId: Text | None = None
    states: StateList | None = None
    labels: dict[str, Any] | None = None


class PreconditionFilter(Strict):
    field: Text
    type: Text
    value: Text | None = None
    values: list[Text] | None = None


class ExecutionFilter(Strict):
    id: Text
    operand: Literal["AND", "OR"] = "AND"
    filters: list[PreconditionFilter]


class TimeWindow(Strict):
    type: Literal["DURATION_WINDOW", "SLIDING_WINDOW", "DAILY_TIME_DEADLINE", "DAILY_TIME_WINDOW"]
    window: Duration | None = None
    windowAdvance: Duration | None = None
    deadline: Text | None = None
    startTime: Text | None = None
    endTime: Text | None = None


class Preconditions(Strict):
    id: Text | None = None
    timeWindow: TimeWindow | None = None
    resetOnSuccess: Bool = True
    flows: list[UpstreamFlow] | None = None
    where: list[ExecutionFilter] | None = None


class FlowTrigger(Trigger):
    """Start an execution when other executions end (upstream flows)."""

    TYPE: ClassVar[str] = f"{CORE}.trigger.Flow"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Flow",)

    inputs: AnyMap | None = None
    states: StateList | None = None
    preconditions: Preconditions | None = None


class Webhook(Trigger):
    """Start an execution on an HTTP call to ``/executions/webhook/{ns}/{flowId}/{key}``."""

    TYPE: ClassVar[str] = f"{CORE}.trigger.Webhook"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Webhook",)

    key: Text
    wait: Bool = False
    returnOutputs: Bool = False
    inputs: AnyMap | None = None
    responseContentType: Text | None = None
    responseCode: Any = None


class HttpTrigger(Trigger, HttpProperties):
    """Poll a URL and start an execution when ``responseCondition`` holds."""

    TYPE: ClassVar[str] = f"{CORE}.http.Trigger"
    ALIASES: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.fs.http.Trigger",)

    interval: Duration = "PT60S"
    responseCondition: Text = "{{ response.statusCode < 400 }}"


class McpToolTrigger(Trigger):
    """Expose the flow as a tool of the built-in MCP server (``/api/v1/mcp``).

    The tool's input schema comes from the flow's inputs, its result from the flow's outputs;
    each call runs the flow and waits for it, labelled ``system.from: mcp``.
    """

    TYPE: ClassVar[str] = f"{CORE}.trigger.McpToolTrigger"

    toolName: Text | None = None
    title: Text | None = None
    toolDescription: Text | None = None
    mcpServer: Text = "default"


class Toggle(Task):
    """A task that enables or disables a trigger."""

    TYPE: ClassVar[str] = f"{CORE}.trigger.Toggle"
    ALIASES: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.trigger.Toggle",)

    namespace: Text | None = None
    flowId: Text | None = None
    trigger: Text
    enabled: Bool = False

    async def run(self, ctx: RunContext) -> Outputs:
        """Set the trigger's ``disabled`` flag in its state row (compare-and-set, retried on a
        concurrent write); the scheduler reads it on its next pass. Like Kestra, a trigger with
        no state yet cannot be toggled."""
        store = ctx.triggers
        if store is None:
            raise TaskFailure("trigger state is not available to this worker", retryable=False)
        execution = ctx.execution
        namespace = (await ctx.render(self.namespace) if self.namespace else None) or (
            execution.namespace
        )
        flow_id = (await ctx.render(self.flowId) if self.flowId else None) or execution.flow_id
        trigger_id = await ctx.render(self.trigger) or ""
        enabled = as_flag(await ctx.render_typed(self.enabled))
        for _ in range(TOGGLE_ATTEMPTS):
            state = await store.get_trigger(execution.tenant_id, namespace, flow_id, trigger_id)
            if state is None:
                raise TaskFailure(
                    f"Unable to find trigger '{trigger_id}' of flow '{namespace}.{flow_id}'",
                    retryable=False,
                )
            if state.disabled == (not enabled):
                break
            try:
                await store.save_trigger(
                    replace(state, disabled=not enabled), expected_revision=state.revision
                )
                break
            except ConcurrentUpdateError:
                continue
        ctx.logger.log(
            "INFO",
            f"Trigger '{trigger_id}' of flow '{namespace}.{flow_id}' "
            f"{'enabled' if enabled else 'disabled'}",
        )
        return None


TRIGGER_MODELS: tuple[type[Trigger], ...] = (
    Schedule, ScheduleOnDates, FlowTrigger, Webhook, HttpTrigger, McpToolTrigger,
)  # fmt: skip
TASK_MODELS: tuple[type[Task], ...] = (Toggle,)
MODELS: tuple[type[Plugin], ...] = (*TASK_MODELS, *TRIGGER_MODELS)
