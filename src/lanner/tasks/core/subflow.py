"""Core tasks that start other flows: ``flow.Subflow``, ``flow.ForEachItem``, ``flow.Template``."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from lanner.tasks.base import (
    DYNAMIC,
    AnyMap,
    Bool,
    FlowableTask,
    Int,
    Strict,
    Task,
    Text,
)

CORE = "io.kestra.plugin.core.flow"
LEGACY = "io.kestra.core.tasks.flows"

Labels = Annotated[dict[str, Any] | list[dict[str, Any]], DYNAMIC]


class Subflow(Task):
    """Start an execution of another flow and (by default) wait for it."""

    TYPE: ClassVar[str] = f"{CORE}.Subflow"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Subflow", f"{LEGACY}.Flow")
    IS_EXECUTABLE: ClassVar[bool] = True
    IS_RUN_BY_ENGINE: ClassVar[bool] = True

    namespace: Text
    flowId: Text
    revision: Int | None = None
    inputs: AnyMap | None = None
    labels: Labels | None = None
    wait: Bool = True
    transmitFailed: Bool = True
    inheritLabels: Bool = False
    scheduleDate: Text | None = None
    outputs: AnyMap | None = None
    restartBehavior: Text | None = None


class Batch(Strict):
    rows: Int | None = None
    bytes: Text | None = None
    partitions: Int | None = None
    separator: Text | None = None


class ForEachItem(Task):
    """Split ``items`` into batches and start one subflow execution per batch."""

    TYPE: ClassVar[str] = f"{CORE}.ForEachItem"
    IS_UNRESOLVED: ClassVar[bool] = True
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.ForEachItem",)
    IS_FLOWABLE: ClassVar[bool] = True
    IS_EXECUTABLE: ClassVar[bool] = True
    BRANCHES: ClassVar[tuple[str, ...]] = ("errors", "finally")

    items: Text
    batch: Batch | None = None
    namespace: Text
    flowId: Text
    revision: Int | None = None
    inputs: AnyMap | None = None
    labels: Labels | None = None
    wait: Bool = True
    transmitFailed: Bool = True
    inheritLabels: Bool = False
    scheduleDate: Text | None = None
    restartBehavior: Text | None = None
    errors: list[Any] | None = None
    finally_: list[Any] | None = Field(default=None, alias="finally")


class Template(FlowableTask):
    """Deprecated: include the tasks of a template."""

    TYPE: ClassVar[str] = f"{CORE}.Template"
    IS_UNRESOLVED: ClassVar[bool] = True
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Template",)
    BRANCHES: ClassVar[tuple[str, ...]] = ("errors", "finally")
    DEPRECATED: ClassVar[bool] = True
    REFUSAL: ClassVar[str] = (
        "templates are deprecated in Kestra; move the template's tasks into a flow and call "
        "it with io.kestra.plugin.core.flow.Subflow"
    )

    namespace: Text
    templateId: Text
    tenantId: Text | None = None
    args: dict[str, Text] | None = None


MODELS: tuple[type[Task], ...] = (Subflow, ForEachItem, Template)
