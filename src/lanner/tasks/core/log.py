"""Core ``log.*`` tasks: ``Log``, ``Fetch`` (an execution's lines into an Ion file) and
``PurgeLogs`` (bulk deletion through the store's bounded purge).

The Ion text is written here (one struct per line, as Kestra's ``FileSerde``): log lines hold
only strings, integers and timestamps. Imports the domain, the store protocols and
``lanner.tasks`` only.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, ClassVar

from lanner.domain.logs import LogEntry, parse_level
from lanner.domain.times import format_instant
from lanner.tasks.base import DYNAMIC, Bool, Int, LogLevel, StrList, Task, Text
from lanner.tasks.context import Outputs, RunContext
from lanner.tasks.core.execution import parse_date, render_list, store_of, target_execution
from lanner.tasks.failures import TaskFailure
from lanner.tasks.values import as_flag

CORE = "io.kestra.plugin.core"
LEGACY = "io.kestra.core.tasks"
LOG_CHUNK_LINES = 500
"""Messages of a ``Log`` task handed to the logger at once (one time stamp, one masking pass
and one hand-over to the log writer per chunk: the lines of a chunk share their time)."""


class Log(Task):
    """Log one message or a list of messages (in chunks of :data:`LOG_CHUNK_LINES`)."""

    TYPE: ClassVar[str] = f"{CORE}.log.Log"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.log.Log",)

    message: Text | list[Text]
    level: LogLevel = "INFO"

    async def run(self, ctx: RunContext) -> Outputs:
        level = parse_level(await ctx.render(self.level))
        if not ctx.logger.is_enabled(level):
            return None
        messages = self.message if isinstance(self.message, list) else [self.message]
        chunk: list[str] = []
        try:
            for item in messages:
                # Text without an expression renders as itself: no render call for it.
                if isinstance(item, str) and "{" not in item:
                    chunk.append(item)
                else:
                    chunk.append(await ctx.render(item) or "")
                if len(chunk) >= LOG_CHUNK_LINES:
                    await ctx.logger.alog_many(level, chunk)
                    chunk = []
        finally:  # the messages before one that fails to render are logged, as one by one
            if chunk:
                await ctx.logger.alog_many(level, chunk)
        return None


class Fetch(Task):
    """Fetch the lines of an execution (this one by default) at ``level`` or above, of some
    tasks only when ``tasksId``, into an Ion file: ``uri`` and ``size`` (lines)."""

    TYPE: ClassVar[str] = f"{CORE}.log.Fetch"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.log.Fetch",)

    namespace: Text | None = None
    flowId: Text | None = None
    executionId: Text | None = None
    tasksId: StrList | None = None
    level: LogLevel = "INFO"

    async def run(self, ctx: RunContext) -> Outputs:
        current = ctx.execution
        store = store_of(ctx)
        namespace, flow_id, execution_id = await target_execution(
            ctx, self.namespace, self.flowId, self.executionId
        )
        is_other = False  # the lines of the execution when it is of that flow (else none)
        if execution_id != current.id:
            target = await store.get_execution(current.tenant_id, execution_id)
            is_other = target is None or (target.namespace, target.flow_id) != (namespace, flow_id)
        level = parse_level(await ctx.render(self.level))
        task_ids = await render_list(ctx, self.tasksId, "tasksId")
        lines: list[LogEntry] = []
        if is_other:
            pass
        elif task_ids:
            for task_id in task_ids:
                lines.extend(
                    await store.list_logs(
                        current.tenant_id, execution_id, min_level=level, task_id=task_id
                    )
                )
        else:
            lines = await store.list_logs(current.tenant_id, execution_id, min_level=level)
        content = "".join(ion_line(log_document(line)) + "\n" for line in lines)
        uri = await ctx.put_file(f"{uuid.uuid4().hex}.ion", content.encode())
        return {"size": len(lines), "uri": uri}


def log_document(line: LogEntry) -> dict[str, Any]:
    """A line as Kestra serializes a ``LogEntry`` (absent fields left out)."""
    document: dict[str, Any] = {
        "tenantId": line.tenant_id, "namespace": line.namespace, "flowId": line.flow_id,
        "taskId": line.task_id, "executionId": line.execution_id,
        "taskRunId": line.task_run_id, "attemptNumber": line.attempt_number,
        "triggerId": line.trigger_id, "timestamp": _Timestamp(format_instant(line.timestamp)),
        "level": line.level.value, "thread": line.thread, "message": line.message,
    }  # fmt: skip
    return {key: value for key, value in document.items() if value is not None}


class _Timestamp(str):
    """An Ion timestamp (written bare, not as a string)."""


def ion_line(value: Any) -> str:
    """``value`` (maps, lists, strings, numbers, booleans, None, timestamps) as Ion text."""
    if isinstance(value, _Timestamp):
        return str(value)
    if isinstance(value, dict):
        fields = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{ion_line(v)}" for k, v in value.items()
        )
        return "{" + ",".join(fields) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(ion_line(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) + ("e0" if "e" not in repr(value) else "")
    return json.dumps(str(value), ensure_ascii=False)


class PurgeLogs(Task):
    """Purge log lines matching a namespace (and its children), flow, execution, levels and a
    date range; executions' lines and the others' (triggers') each when asked."""

    TYPE: ClassVar[str] = f"{CORE}.log.PurgeLogs"

    namespace: Text | None = None
    flowId: Text | None = None
    executionId: Text | None = None
    logLevels: Annotated[list[LogLevel], DYNAMIC] | None = None
    startDate: Text | None = None
    endDate: Text
    purgeExecutionLogs: Bool = True
    purgeNonExecutionLogs: Bool = True
    batchSize: Int | None = None

    async def run(self, ctx: RunContext) -> Outputs:
        store = store_of(ctx)
        before = parse_date(await ctx.render(self.endDate), "endDate")
        if before is None:
            raise TaskFailure("endDate: must not be empty", retryable=False)
        after = parse_date(await ctx.render(self.startDate), "startDate")
        levels = [
            parse_level(level) for level in await render_list(ctx, self.logLevels, "logLevels")
        ]
        options: dict[str, Any] = {
            "tenant_id": ctx.execution.tenant_id,
            "namespace": await ctx.render(self.namespace),
            "flow_id": await ctx.render(self.flowId),
            "levels": levels,
            "after": after,
            "execution_id": await ctx.render(self.executionId),
        }
        of_executions = others = 0
        if as_flag(await ctx.render_typed(self.purgeExecutionLogs)):
            of_executions = await store.purge_logs(before, of_executions=True, **options)
        if (
            as_flag(await ctx.render_typed(self.purgeNonExecutionLogs))
            and not options["execution_id"]
        ):
            others = await store.purge_logs(before, of_executions=False, **options)
        return {
            "count": of_executions + others,
            "executionLogsCount": of_executions,
            "nonExecutionLogsCount": others,
        }


MODELS: tuple[type[Task], ...] = (Log, Fetch, PurgeLogs)
