"""Core ``execution.*`` tasks (0.20 and the 1.x additions).

``Labels``, ``SetVariables``, ``UnsetVariables``, ``Exit``, ``Kill`` and ``Resume`` change the
execution: Kestra runs them in its executor; here they run on a worker like any task, render
their properties and hand the change to the executor (``RunContext.update_execution``), which
applies it with the task run's end (``lanner.engine.effects``). ``Count`` and
``PurgeExecutions`` read and purge the store. Imports the domain, the store protocols and
``lanner.tasks`` only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from lanner.domain.executions import Execution
from lanner.domain.input_values import InputValuesError, coerce_inputs
from lanner.domain.inputs import InputSpec, resume_input_specs
from lanner.domain.labels import SYSTEM_PREFIX
from lanner.domain.states import StateType
from lanner.store import ExecutionQuery, Store
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
from lanner.tasks.context import (
    EXIT,
    KILL,
    LABELS,
    RESUME,
    SET_VARIABLES,
    UNSET_VARIABLES,
    Outputs,
    RunContext,
)
from lanner.tasks.failures import TaskFailure
from lanner.tasks.values import as_flag, is_truthy

CORE = "io.kestra.plugin.core.execution"
LEGACY = "io.kestra.core.tasks.executions"


def store_of(ctx: RunContext) -> Store:
    if ctx.store is None:
        raise TaskFailure("the store is not available to this worker", retryable=False)
    return ctx.store


def parse_date(text: str | None, name: str) -> datetime | None:
    """An ISO-8601 date-time as Kestra's ``ZonedDateTime.parse`` reads it (``[zone]`` ignored)."""
    if not text:
        return None
    value = text.strip().split("[", 1)[0]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TaskFailure(f"{name}: invalid date '{text}'", retryable=False) from None
    if parsed.tzinfo is None:
        raise TaskFailure(f"{name}: the date '{text}' has no time zone", retryable=False)
    return parsed


async def render_states(ctx: RunContext, states: Any) -> tuple[StateType, ...]:
    rendered = await ctx.render_typed(states)
    if rendered is None:
        return ()
    if isinstance(rendered, str):
        rendered = json.loads(rendered) if rendered.strip().startswith("[") else [rendered]
    try:
        return tuple(StateType(str(item).upper()) for item in rendered)
    except ValueError as error:
        raise TaskFailure(f"states: {error}", retryable=False) from None


async def render_list(ctx: RunContext, value: Any, name: str) -> list[str]:
    rendered = await ctx.render_typed(value)
    if rendered is None:
        return []
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except ValueError:
            rendered = [rendered]
    if not isinstance(rendered, list):
        raise TaskFailure(f"{name} must be a list, got {type(rendered).__name__}")
    return [str(item) for item in rendered]


async def target_execution(
    ctx: RunContext, namespace: str | None, flow_id: str | None, execution_id: str | None
) -> tuple[str, str, str]:
    """``(namespace, flowId, executionId)`` a task's properties point at, as Kestra's
    ``executionFromTaskParameters``: the current execution without ``executionId``; with it,
    the current flow's unless both ``namespace`` and ``flowId`` are given."""
    current = ctx.execution
    if execution_id is None:
        if namespace is not None or flow_id is not None:
            raise TaskFailure(
                "`namespace` and `flowId` should only be set when `executionId` is set.",
                retryable=False,
            )
        return current.namespace, current.flow_id, current.id
    rendered_id = await ctx.render(execution_id) or ""
    if namespace is not None and flow_id is not None:
        return await ctx.render(namespace) or "", await ctx.render(flow_id) or "", rendered_id
    if namespace is not None or flow_id is not None:
        raise TaskFailure(
            "Both `namespace` and `flowId` must be set when `executionId` is set.",
            retryable=False,
        )
    return current.namespace, current.flow_id, rendered_id


async def _variables(ctx: RunContext) -> dict[str, Any]:
    """The execution's variables as templates see them (``{{ vars }}``)."""
    rendered = await ctx.render_typed("{{ vars }}")
    return rendered if isinstance(rendered, dict) else {}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
    """Add labels to the running execution (a map, a list of ``{key, value}`` or a JSON map)."""

    TYPE: ClassVar[str] = f"{CORE}.Labels"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Labels",)

    labels: dict[str, Any] | list[dict[str, Any]] | str  # a string: a JSON map (rendered)

    async def run(self, ctx: RunContext) -> Outputs:
        pairs: list[list[str]] = []
        if isinstance(self.labels, str):
            text = await ctx.render(self.labels) or ""
            try:
                parsed = json.loads(text)
            except ValueError:
                raise TaskFailure(f"labels: not a JSON map of labels: {text!r}") from None
            if not isinstance(parsed, dict):
                raise TaskFailure(f"labels: not a JSON map of labels: {text!r}")
            pairs = [[str(k), _text(v)] for k, v in parsed.items()]
        elif isinstance(self.labels, dict):
            for key, value in self.labels.items():
                pairs.append([await ctx.render(key) or "", await self._value(ctx, value)])
        else:
            for item in self.labels:
                if "key" not in item:
                    raise TaskFailure(f"labels: a label has no key: {item!r}")
                key = await ctx.render(item["key"]) or ""
                pairs.append([key, await self._value(ctx, item.get("value", ""))])
        for key, value in pairs:
            if not key or not value:
                raise TaskFailure(f"labels: a label key and value must not be empty: {key}={value}")
            if key.startswith(SYSTEM_PREFIX):
                raise TaskFailure(
                    "System labels can only be set by Kestra itself, offending label: "
                    f"{key}={value}"
                )
        ctx.update_execution(LABELS, pairs)
        return None

    @staticmethod
    async def _value(ctx: RunContext, value: Any) -> str:
        if isinstance(value, dict):
            return json.dumps(await ctx.render_typed(value), separators=(",", ":"))
        return await ctx.render(_text(value)) or ""


class CountFlow(Strict):
    namespace: Text | None = None
    flowId: Text | None = None


class Count(Task):
    """Count executions of some flows (or of namespaces' flows) in a date range; keep the
    flows whose count passes ``expression`` (``{{ count }}`` is the flow's count)."""

    TYPE: ClassVar[str] = f"{CORE}.Count"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Counts",)

    flows: list[CountFlow] | None = None
    states: StateList | None = None
    startDate: Text
    endDate: Text | None = None
    expression: Text
    namespaces: StrList | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        if self.flows is None and self.namespaces is None:
            raise TaskFailure("You must provide a list of flows or namespaces.")
        store = store_of(ctx)
        tenant = ctx.execution.tenant_id
        states = await render_states(ctx, self.states)
        start = parse_date(await ctx.render(self.startDate), "startDate")
        if start is None:
            raise TaskFailure("startDate: must not be empty", retryable=False)
        end = parse_date(await ctx.render(self.endDate), "endDate") or datetime.now(UTC)

        async def count_of(namespace: str, flow_id: str) -> int:
            query = ExecutionQuery(
                tenant_id=tenant, namespace=namespace, flow_id=flow_id, states=states,
                start_date=start, end_date=end, size=1,
            )  # fmt: skip
            return (await store.search_executions(query)).total

        rows: list[dict[str, Any]] = []  # every given flow (0 included), then each namespace
        for flow in self.flows or ():
            namespace = await ctx.render(flow.namespace) or ""
            flow_id = await ctx.render(flow.flowId) or ""
            rows.append(
                {
                    "namespace": namespace,
                    "flowId": flow_id,
                    "count": await count_of(namespace, flow_id),
                }
            )
        for namespace in await render_list(ctx, self.namespaces, "namespaces"):
            total = 0
            for stored in await store.list_flows(tenant, namespace):
                if stored.namespace == namespace:
                    total += await count_of(namespace, stored.id)
            if total:  # as Kestra: a namespace without executions has no row
                rows.append({"namespace": namespace, "count": total})
        results = [
            row
            for row in rows
            if await ctx.render_with(self.expression, {"count": row["count"]}) == "true"
        ]
        ctx.logger.log("DEBUG", f"{len(results)} flows matching the expression")
        return {"results": results, "total": sum(r["count"] for r in results)}


class Resume(Task):
    """Resume a paused execution (the current one by default)."""

    TYPE: ClassVar[str] = f"{CORE}.Resume"

    namespace: Text | None = None
    flowId: Text | None = None
    executionId: Text | None = None
    inputs: AnyMap | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        current = ctx.execution
        _, _, execution_id = await target_execution(
            ctx, self.namespace, self.flowId, self.executionId
        )
        target = await store_of(ctx).get_execution(current.tenant_id, execution_id)
        if target is None:
            raise TaskFailure(f"No execution found for execution id {execution_id}")
        if target.state.current is not StateType.PAUSED:
            raise TaskFailure(
                f"Execution {execution_id} is not paused, it is {target.state.current.value}"
            )
        inputs = await ctx.render_typed(self.inputs) or {}
        if not isinstance(inputs, dict):
            raise TaskFailure(f"inputs must be a map, got {type(inputs).__name__}")
        specs = await _resume_specs(store_of(ctx), target)
        if specs:  # typed as the API types them: against the Pause's ``onResume``
            try:
                inputs = coerce_inputs(specs, inputs)
            except InputValuesError as error:
                raise TaskFailure(f"Invalid resume inputs: {error}") from None
        ctx.update_execution(RESUME, {"executionId": target.id, "inputs": inputs})
        resumed = {"id": target.id, "namespace": target.namespace, "flowId": target.flow_id}
        ctx.update_execution(SET_VARIABLES, {"resumedExecution": resumed})
        return None


async def _resume_specs(store: Store, target: Execution) -> tuple[InputSpec, ...]:
    """The ``onResume`` declarations of the target's paused Pause task runs."""
    paused = {
        run.task_id
        for run in await store.list_task_runs(target.id)
        if run.state.current is StateType.PAUSED
    }
    stored = await store.get_flow(
        target.tenant_id, target.namespace, target.flow_id,
        revision=target.flow_revision, allow_deleted=True,
    )  # fmt: skip
    if not paused or stored is None:
        return ()
    specs: list[InputSpec] = []
    pending: list[Any] = [stored.document]
    while pending:  # every task of the document, nested ones too
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("id") in paused and isinstance(node.get("type"), str):
                specs.extend(resume_input_specs(node.get("onResume")))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return tuple(specs)


class PurgeExecutions(Task):
    """Purge ended executions, their logs, metrics and storage matching filters and a date
    range."""

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
    batchSize: Int = 100

    async def run(self, ctx: RunContext) -> Outputs:
        store = store_of(ctx)
        current = ctx.execution
        namespace = await ctx.render(self.namespace)
        flow_id = await ctx.render(self.flowId)
        start = parse_date(await ctx.render(self.startDate), "startDate")
        end = parse_date(await ctx.render(self.endDate), "endDate")
        if end is None:
            raise TaskFailure("endDate: must not be empty", retryable=False)
        states = await render_states(ctx, self.states)
        flags = [
            as_flag(await ctx.render_typed(flag))
            for flag in (self.purgeExecution, self.purgeLog, self.purgeMetric, self.purgeStorage)
        ]
        purge_execution, purge_log, purge_metric, purge_storage = flags
        size = int(await ctx.render_typed(self.batchSize))
        if size < 1:
            raise TaskFailure(f"batchSize must be at least 1, got {size}", retryable=False)
        counts = dict.fromkeys(
            ("executionsCount", "taskOutputsCount", "logsCount", "storagesCount", "metricsCount"),
            0,
        )
        page = 1
        while True:
            query = ExecutionQuery(
                tenant_id=current.tenant_id, namespace=namespace, flow_id=flow_id,
                states=states, start_date=start, end_date=end, page=page, size=size,
                sort=(("state.startDate", False),),
            )  # fmt: skip
            found = (await store.search_executions(query)).results
            for execution in found:
                if execution.id == current.id or not execution.state.current.is_terminated:
                    continue  # a live execution is never purged
                if purge_log:
                    counts["logsCount"] += await store.delete_logs(
                        execution.tenant_id, execution.id
                    )
                if purge_metric:
                    counts["metricsCount"] += await store.delete_execution_metrics(
                        execution.tenant_id, execution.id
                    )
                if purge_storage and await ctx.delete_files_of_execution(
                    execution.namespace, execution.flow_id, execution.id
                ):
                    counts["storagesCount"] += 1
                if purge_execution and await store.delete_execution(
                    execution.tenant_id, execution.id
                ):
                    counts["executionsCount"] += 1
            if len(found) < size:
                break
            if not purge_execution:
                page += 1  # kept: the next page holds the next ones
        if counts["executionsCount"]:
            while await store.reclaim_space() > 0:  # as the history retention does
                pass
        return counts


ExitState = Literal["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED"]
_EXIT_STATES = {
    "SUCCESS": StateType.SUCCESS, "WARNING": StateType.WARNING, "KILLED": StateType.KILLED,
    "FAILED": StateType.FAILED, "CANCELED": StateType.CANCELLED,
}  # fmt: skip


class Exit(Task):
    """End the execution now with ``state`` (1.x); ``KILLED`` also kills what still runs."""

    TYPE: ClassVar[str] = f"{CORE}.Exit"

    state: Annotated[ExitState, DYNAMIC] = "SUCCESS"

    async def run(self, ctx: RunContext) -> Outputs:
        rendered = (await ctx.render(self.state) or "").strip().upper()
        state = _EXIT_STATES.get(rendered)
        if state is None:
            raise TaskFailure(
                f"state: '{rendered}' is not one of {', '.join(_EXIT_STATES)}", retryable=False
            )
        ctx.update_execution(EXIT, state.value)
        return None


_FALSY = ("false", "0", "-0", "")


class Assert(Task):
    """Fail when one of the ``conditions`` renders falsy (``false``, ``0``, ``-0``, empty), each
    failed one logged at ERROR; ``success``/``failed`` counters (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.Assert"

    conditions: StrList
    errorMessage: Text | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        failed = success = 0
        conditions = self.conditions if isinstance(self.conditions, list) else [self.conditions]
        for condition in conditions:
            try:
                rendered = await ctx.render(condition)
            except Exception as error:  # a render error is a failed assertion, not a crash
                ctx.logger.log(
                    "ERROR", f"Assertion `{condition}` failed, failed to render `{error}`"
                )
                failed += 1
                continue
            if rendered is None or rendered.strip() in _FALSY:
                ctx.logger.log("ERROR", f"Assertion `{condition}` failed!")
                failed += 1
            else:
                success += 1
        ctx.metric("success", success)
        ctx.metric("failed", failed)
        if failed:
            message = f"{failed} assertion{'s' if failed > 1 else ''} failed!"
            extra = await ctx.render(self.errorMessage)
            raise TaskFailure(message + (f"\n{extra}" if extra else ""))
        return None


class SetVariables(Task):
    """Deep-merge ``variables`` into the execution's variables (``{{ vars.* }}``) (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.SetVariables"

    variables: AnyMap
    overwrite: Bool = True

    async def run(self, ctx: RunContext) -> Outputs:
        rendered = await ctx.render_typed(self.variables)
        if not isinstance(rendered, dict):
            raise TaskFailure(f"variables must be a map, got {type(rendered).__name__}")
        if not as_flag(await ctx.render_typed(self.overwrite)):
            current = await _variables(ctx)
            duplicated = [key for key in rendered if key in current]
            if duplicated:
                raise TaskFailure(
                    "`overwrite` is set to false and the following variables already exist: "
                    + ",".join(duplicated)
                )
        ctx.update_execution(SET_VARIABLES, rendered)
        return None


class UnsetVariables(Task):
    """Remove execution variables (dotted paths reach into maps) (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.UnsetVariables"

    variables: StrList
    ignoreMissing: Bool = False

    async def run(self, ctx: RunContext) -> Outputs:
        names = await render_list(ctx, self.variables, "variables")
        if not as_flag(await ctx.render_typed(self.ignoreMissing)):
            current = await _variables(ctx)
            for name in names:
                node = current
                for part in name.split("."):
                    if not isinstance(node, dict) or part not in node:
                        raise TaskFailure(f"The variable '{name}' does not exist")
                    node = node[part]
        ctx.update_execution(UNSET_VARIABLES, names)
        return None


class Kill(Task):
    """Kill the current execution (or ``executionId``'s), its subflows' too when
    ``propagateKill`` (1.x)."""

    TYPE: ClassVar[str] = f"{CORE}.Kill"

    executionId: Text | None = None
    propagateKill: Bool = False

    async def run(self, ctx: RunContext) -> Outputs:
        current = ctx.execution
        propagate = as_flag(await ctx.render_typed(self.propagateKill))
        target_id = await ctx.render(self.executionId) or current.id
        if target_id != current.id:
            target = await store_of(ctx).get_execution(current.tenant_id, target_id)
            if target is None:
                raise TaskFailure(f"No execution found for execution id {target_id}")
            if target.state.current.is_terminated:
                ctx.logger.log("INFO", f"Execution {target_id} has ended already")
                return None
        ctx.update_execution(KILL, {"executionId": target_id, "propagate": propagate})
        return None


MODELS: tuple[type[Task], ...] = (
    Fail, Labels, Count, Resume, PurgeExecutions, Exit, Assert, SetVariables, UnsetVariables, Kill,
)  # fmt: skip
