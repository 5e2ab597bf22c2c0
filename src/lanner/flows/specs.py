"""Builds task, trigger and condition specs from YAML data, validating each against its model.

Every task's ``type`` is resolved through the plugin registry (aliases included), plugin
defaults are merged in before its property model checks it (so defaulted properties count as
present), and child branches are built recursively with their own paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from lanner.domain.flows import CASES_PREFIX, ConditionSpec, PluginDefault, TaskSpec, TriggerSpec
from lanner.flows.loader import Path, format_path
from lanner.flows.problems import Problems
from lanner.tasks.base import CONDITION, TASK, TRIGGER, Plugin
from lanner.tasks.core.flow import Dag
from lanner.tasks.registry import TypeRegistry

TASK_ID_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
WORKER_GROUP_EE = "Worker Group is an Enterprise Edition functionality"
_SKIPPED = frozenset({"id", "type"})


class SpecBuilder:
    """Turns raw task/trigger/condition mappings into specs, recording problems as it goes."""

    def __init__(
        self,
        problems: Problems,
        registry: TypeRegistry,
        plugin_defaults: tuple[PluginDefault, ...] = (),
    ) -> None:
        self.problems = problems
        self.registry = registry
        self.plugin_defaults = plugin_defaults
        self.legacy_types: list[tuple[str, str]] = []

    # -- tasks ---------------------------------------------------------------------------------

    def tasks(self, raw: Any, path: Path, *, required: bool = False) -> tuple[TaskSpec, ...]:
        """A list of tasks; ``required`` lists must exist and hold at least one task."""
        if raw is None:
            if required:
                self.problems.add(path, "must not be empty")
            return ()
        if not isinstance(raw, list):
            self.problems.add(path, "must be a list of tasks")
            return ()
        if required and not raw:
            self.problems.add(path, "must not be empty")
        specs = (self.task(item, (*path, i)) for i, item in enumerate(raw))
        return tuple(spec for spec in specs if spec is not None)

    def task(self, raw: Any, path: Path, depends_on: tuple[str, ...] = ()) -> TaskSpec | None:
        """One task, or ``None`` when it cannot be built (the problem is recorded)."""
        if not isinstance(raw, Mapping):
            self.problems.add(path, "must be an object (a task)")
            return None
        model = self._resolve(raw, path, TASK)
        if model is None:
            return None
        effective = self._with_defaults(raw, model.TYPE)
        self.validate(model, effective, path)
        task_id = self._check_id(effective.get("id"), path)
        self._check_worker_group(effective, path)
        children = self._children(model, effective, path)
        branches = set(model.BRANCHES)
        return TaskSpec(
            id=task_id,
            type=model.TYPE,
            path=format_path(path),
            properties=_frozen({k: v for k, v in effective.items() if k not in branches}),
            children=MappingProxyType(children),
            # A flowable with no resolution here (``Template``) runs as a task, which fails
            # with "cannot run on this server" instead of ending as an empty flowable.
            is_flowable=model.IS_FLOWABLE and not model.IS_UNRESOLVED,
            is_executable=model.IS_EXECUTABLE,
            source_type=str(raw["type"]),
            source_properties=_frozen({k: v for k, v in raw.items() if k not in branches}),
            depends_on=depends_on,
        )

    def _children(
        self, model: type[Plugin], props: Mapping[str, Any], path: Path
    ) -> dict[str, tuple[TaskSpec, ...]]:
        children: dict[str, tuple[TaskSpec, ...]] = {}
        for branch in model.BRANCHES:
            raw = props.get(branch)
            if raw is None:
                continue
            if branch == "cases":
                if isinstance(raw, Mapping):
                    for case, tasks in raw.items():
                        where = (*path, "cases", str(case))
                        children[f"{CASES_PREFIX}{case}"] = self.tasks(tasks, where)
            elif issubclass(model, Dag) and branch == "tasks":
                children["tasks"] = self._dag_children(raw, (*path, "tasks"))
            else:
                children[branch] = self.tasks(raw, (*path, branch))
        return children

    def _dag_children(self, raw: Any, path: Path) -> tuple[TaskSpec, ...]:
        if not isinstance(raw, list):
            return ()
        specs: list[TaskSpec] = []
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping) or not isinstance(item.get("task"), Mapping):
                continue  # the Dag model reports the malformed item
            depends = item.get("dependsOn") or ()
            deps = tuple(str(d) for d in depends) if isinstance(depends, list) else ()
            spec = self.task(item["task"], (*path, i, "task"), deps)
            if spec is not None:
                specs.append(spec)
        return tuple(specs)

    # -- triggers and conditions ---------------------------------------------------------------

    def triggers(self, raw: Any, path: Path) -> tuple[TriggerSpec, ...]:
        """The flow's ``triggers`` list."""
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problems.add(path, "must be a list of triggers")
            return ()
        specs = (self.trigger(item, (*path, i)) for i, item in enumerate(raw))
        return tuple(spec for spec in specs if spec is not None)

    def trigger(self, raw: Any, path: Path) -> TriggerSpec | None:
        """One trigger, or ``None`` when it cannot be built."""
        if not isinstance(raw, Mapping):
            self.problems.add(path, "must be an object (a trigger)")
            return None
        model = self._resolve(raw, path, TRIGGER)
        if model is None:
            return None
        effective = self._with_defaults(raw, model.TYPE)
        self.validate(model, effective, path)
        trigger_id = self._check_id(effective.get("id"), path)
        self._check_worker_group(effective, path)
        conditions = self.conditions(effective.get("conditions"), (*path, "conditions"))
        return TriggerSpec(
            id=trigger_id,
            type=model.TYPE,
            path=format_path(path),
            properties=_frozen({k: v for k, v in effective.items() if k != "conditions"}),
            conditions=conditions,
            source_type=str(raw["type"]),
            source_properties=_frozen({k: v for k, v in raw.items() if k != "conditions"}),
        )

    def conditions(self, raw: Any, path: Path) -> tuple[ConditionSpec, ...]:
        """A list of conditions (of a trigger or a listener)."""
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problems.add(path, "must be a list of conditions")
            return ()
        specs = (self.condition(item, (*path, i)) for i, item in enumerate(raw))
        return tuple(spec for spec in specs if spec is not None)

    def condition(self, raw: Any, path: Path) -> ConditionSpec | None:
        """One condition; nested ones (``Not``, ``Or``, ``MultipleCondition``) are checked too."""
        if not isinstance(raw, Mapping):
            self.problems.add(path, "must be an object (a condition)")
            return None
        model = self._resolve(raw, path, CONDITION)
        if model is None:
            return None
        self.validate(model, raw, path)
        for name in getattr(model, "NESTED", ()):
            nested = raw.get(name)
            if isinstance(nested, list):
                self.conditions(nested, (*path, name))
            elif isinstance(nested, Mapping):
                for key, item in nested.items():
                    self.condition(item, (*path, name, str(key)))
        return ConditionSpec(
            type=model.TYPE,
            path=format_path(path),
            properties=_frozen({k: v for k, v in raw.items() if k != "type"}),
            source_type=str(raw["type"]),
        )

    # -- shared checks -------------------------------------------------------------------------

    def validate(self, model: type[Plugin], data: Mapping[str, Any], path: Path) -> None:
        """Check ``data`` against ``model``, recording one problem per offending property."""
        try:
            model.model_validate(dict(data))
        except ValidationError as exc:
            for error in exc.errors():
                where, message = _describe(error, data, model)
                self.problems.add((*path, *where), message)

    def _resolve(self, raw: Mapping[str, Any], path: Path, kind: str) -> type[Plugin] | None:
        type_name = raw.get("type")
        if not isinstance(type_name, str) or not type_name:
            self.problems.add((*path, "type"), "must not be null")
            return None
        resolved = self.registry.resolve(type_name, kind)
        if resolved is None:
            self.problems.add((*path, "type"), f"Invalid type: {type_name}")
            return None
        if resolved.is_alias:
            self.legacy_types.append((type_name, resolved.type))
        return resolved.model

    def _check_id(self, value: Any, path: Path) -> str:
        if value is None or value == "":
            if value is None:  # an empty string is reported by the model
                self.problems.add((*path, "id"), "must not be null")
            return ""
        text = str(value)
        if not TASK_ID_RE.fullmatch(text):
            self.problems.add((*path, "id"), f'must match "^{TASK_ID_RE.pattern}$"')
        return text

    def _check_worker_group(self, props: Mapping[str, Any], path: Path) -> None:
        group = props.get("workerGroup")
        if isinstance(group, Mapping) and group.get("key") is not None:
            self.problems.add((*path, "workerGroup"), WORKER_GROUP_EE)

    def _with_defaults(self, raw: Mapping[str, Any], type_name: str) -> dict[str, Any]:
        """``raw`` with the matching plugin defaults merged in (forced ones win)."""
        result = dict(raw)
        matching = [d for d in self.plugin_defaults if self._matches(d, type_name)]
        for default in matching:
            if not default.forced:
                result = deep_merge(dict(default.values), result)
        for default in matching:
            if default.forced:
                result = deep_merge(result, dict(default.values))
        return result

    def _matches(self, default: PluginDefault, type_name: str) -> bool:
        resolved = self.registry.resolve(default.type, TASK) or self.registry.resolve(
            default.type, TRIGGER
        )
        prefix = resolved.type if resolved is not None else default.type
        return type_name.lower().startswith(prefix.lower())


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``, merging nested mappings key by key."""
    result = dict(base)
    for key, value in override.items():
        current = result.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            result[key] = deep_merge(current, value)
        else:
            result[key] = value
    return result


def _frozen(mapping: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(mapping)


def _describe(error: Any, data: Mapping[str, Any], model: type[Plugin]) -> tuple[Path, str]:
    """A pydantic error as (path relative to the object, Kestra-like message).

    Union members and validator names appear in pydantic's ``loc``; only the parts that exist
    in the data (plus the missing or unknown key itself) make the path.
    """
    loc: tuple[Any, ...] = tuple(error["loc"])
    kind: str = error["type"]
    keep_last = kind in ("missing", "extra_forbidden")
    path: list[str | int] = []
    node: Any = data
    for i, part in enumerate(loc):
        if isinstance(node, Mapping) and isinstance(part, str) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif keep_last and i == len(loc) - 1:
            path.append(part)
    if kind == "extra_forbidden":
        return tuple(path), (
            f'Unrecognized field "{path[-1]}" (class {model.TYPE}), not marked as ignorable'
        )
    if kind == "missing" or error.get("input", ...) is None:
        return tuple(path), "must not be null"
    if kind in ("too_short", "string_too_short"):
        return tuple(path), "must not be empty"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return tuple(path), message
