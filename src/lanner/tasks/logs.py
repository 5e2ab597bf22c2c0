"""Core ``log.*``, ``debug.*`` and ``output.*`` task properties."""

from __future__ import annotations

from typing import Annotated, ClassVar

from lanner.tasks.base import DYNAMIC, AnyMap, LogLevel, StrList, Task, Text

CORE = "io.kestra.plugin.core"
LEGACY = "io.kestra.core.tasks"


class Log(Task):
    """Log one message or a list of messages."""

    TYPE: ClassVar[str] = f"{CORE}.log.Log"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.log.Log",)

    message: Text | list[Text]
    level: LogLevel = "INFO"


class Fetch(Task):
    """Fetch the logs of an execution into an ion file."""

    TYPE: ClassVar[str] = f"{CORE}.log.Fetch"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.log.Fetch",)

    namespace: Text | None = None
    flowId: Text | None = None
    executionId: Text | None = None
    tasksId: StrList | None = None
    level: LogLevel = "INFO"


class PurgeLogs(Task):
    """Purge logs matching a namespace, flow, levels and a date range."""

    TYPE: ClassVar[str] = f"{CORE}.log.PurgeLogs"

    namespace: Text | None = None
    flowId: Text | None = None
    logLevels: Annotated[list[LogLevel], DYNAMIC] | None = None
    startDate: Text | None = None
    endDate: Text


class Return(Task):
    """Render ``format`` and return it as the ``value`` output."""

    TYPE: ClassVar[str] = f"{CORE}.debug.Return"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.debugs.Return",)

    format: Text | None = None


class Echo(Task):
    """Log ``format`` (deprecated, use Log)."""

    TYPE: ClassVar[str] = f"{CORE}.debug.Echo"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.debugs.Echo",)
    DEPRECATED: ClassVar[bool] = True

    format: Text
    level: LogLevel = "INFO"


class OutputValues(Task):
    """Expose rendered ``values`` as outputs."""

    TYPE: ClassVar[str] = f"{CORE}.output.OutputValues"

    values: AnyMap | None = None


MODELS: tuple[type[Task], ...] = (Log, Fetch, PurgeLogs, Return, Echo, OutputValues)
