"""The flow model: a parsed, validated Kestra flow as frozen data the engine walks.

A task keeps its properties as a generic mapping (the typed property models live in
``lanner.tasks``); what the engine needs to walk the tree is explicit: child tasks by branch name
(``tasks``, ``then``, ``else``, ``cases.<value>``, ``defaults``, ``errors``, ``finally``), Dag
dependencies and each task's YAML path. Imports only the standard library and the domain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from lanner.domain.inputs import InputSpec, OutputSpec
from lanner.domain.labels import Label

_EMPTY: Mapping[str, Any] = MappingProxyType({})

CASES_PREFIX = "cases."
"""Branch names of a Switch's cases are ``cases.<value>``."""


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task as declared: canonical ``type``, properties and child tasks by branch.

    ``is_flowable`` tasks are resolved by the executor into child task runs; ``is_executable``
    ones start other executions (Subflow, ForEachItem); the others run on a worker.
    ``properties`` are the effective ones (plugin defaults applied, ``id``/``type`` and child
    branches left out); ``source_properties`` are the ones written in the flow. ``depends_on``
    is set for the children of a Dag.
    """

    id: str
    type: str
    path: str
    properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    children: Mapping[str, tuple[TaskSpec, ...]] = field(default_factory=lambda: _EMPTY)
    is_flowable: bool = False
    is_executable: bool = False
    source_type: str = ""
    source_properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    depends_on: tuple[str, ...] = ()

    @property
    def is_disabled(self) -> bool:
        return self.properties.get("disabled") is True

    @property
    def run_if(self) -> Any:
        return self.properties.get("runIf", "true")

    @property
    def allow_failure(self) -> bool:
        return self.properties.get("allowFailure") is True

    @property
    def allow_warning(self) -> bool:
        return self.properties.get("allowWarning") is True

    @property
    def retry(self) -> Mapping[str, Any] | None:
        value = self.properties.get("retry")
        return value if isinstance(value, Mapping) else None

    def branch(self, name: str) -> tuple[TaskSpec, ...]:
        """The child tasks of one branch (empty when absent)."""
        return self.children.get(name, ())

    @property
    def cases(self) -> dict[str, tuple[TaskSpec, ...]]:
        """A Switch's cases by value."""
        return {
            name[len(CASES_PREFIX) :]: tasks
            for name, tasks in self.children.items()
            if name.startswith(CASES_PREFIX)
        }

    def walk(self) -> Iterator[TaskSpec]:
        """This task, then every descendant, depth first in declaration order."""
        yield self
        for tasks in self.children.values():
            for child in tasks:
                yield from child.walk()


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """A trigger or listener condition; nested conditions stay inside ``properties``."""

    type: str
    path: str
    properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    source_type: str = ""


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """One trigger: canonical ``type``, properties and its conditions."""

    id: str
    type: str
    path: str
    properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    conditions: tuple[ConditionSpec, ...] = ()
    source_type: str = ""
    source_properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def is_disabled(self) -> bool:
        return self.properties.get("disabled") is True


@dataclass(frozen=True, slots=True)
class Listener:
    """A (deprecated) flow listener: tasks run after an execution matching the conditions."""

    tasks: tuple[TaskSpec, ...]
    conditions: tuple[ConditionSpec, ...] = ()
    description: str | None = None


@dataclass(frozen=True, slots=True)
class PluginDefault:
    """``pluginDefaults[]``: values applied to tasks/triggers whose type starts with ``type``."""

    type: str
    values: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    forced: bool = False


@dataclass(frozen=True, slots=True)
class Concurrency:
    """Flow-level concurrency limit; ``behavior`` is QUEUE, CANCEL or FAIL."""

    limit: int
    behavior: str = "QUEUE"


@dataclass(frozen=True, slots=True)
class Flow:
    """A whole flow. ``revision`` is assigned by the store; the rest comes from the YAML."""

    id: str
    namespace: str
    tasks: tuple[TaskSpec, ...]
    revision: int | None = None
    description: str | None = None
    labels: tuple[Label, ...] = ()
    inputs: tuple[InputSpec, ...] = ()
    variables: Mapping[str, Any] | None = None
    errors: tuple[TaskSpec, ...] = ()
    finally_: tuple[TaskSpec, ...] = ()
    after_execution: tuple[TaskSpec, ...] = ()
    listeners: tuple[Listener, ...] = ()
    triggers: tuple[TriggerSpec, ...] = ()
    plugin_defaults: tuple[PluginDefault, ...] = ()
    plugin_defaults_key: str = "pluginDefaults"
    concurrency: Concurrency | None = None
    outputs: tuple[OutputSpec, ...] = ()
    retry: Mapping[str, Any] | None = None
    sla: tuple[Mapping[str, Any], ...] = ()
    disabled: bool = False
    worker_group: Mapping[str, Any] | None = None

    @property
    def uid(self) -> str:
        return f"{self.namespace}.{self.id}"

    def root_branches(self) -> dict[str, tuple[TaskSpec, ...]]:
        """The top-level task lists by their YAML name."""
        return {
            "tasks": self.tasks,
            "errors": self.errors,
            "finally": self.finally_,
            "afterExecution": self.after_execution,
        }

    def all_tasks(self) -> Iterator[TaskSpec]:
        """Every task of the flow, nested ones and listeners' included, in declaration order."""
        for tasks in self.root_branches().values():
            for task in tasks:
                yield from task.walk()
        for listener in self.listeners:
            for task in listener.tasks:
                yield from task.walk()

    def find_task(self, task_id: str) -> TaskSpec | None:
        """The task with this id anywhere in the flow, or ``None``."""
        return next((t for t in self.all_tasks() if t.id == task_id), None)

    def parent_of(self, task_id: str) -> TaskSpec | None:
        """The flowable task whose branches directly hold ``task_id`` (``None`` at the root)."""
        for task in self.all_tasks():
            for children in task.children.values():
                if any(child.id == task_id for child in children):
                    return task
        return None


def walk_tasks(tasks: tuple[TaskSpec, ...]) -> Iterator[TaskSpec]:
    """Every task of a list and its descendants, depth first."""
    for task in tasks:
        yield from task.walk()
