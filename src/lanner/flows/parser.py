"""``parse_flow``: YAML source → a validated :class:`~lanner.domain.flows.Flow`.

Every problem of the document is collected (unknown or duplicate keys, unknown types, bad ids,
bad inputs, structural rules) and raised at once as :class:`~lanner.errors.InvalidFlowError`,
each detail carrying its path and source line:column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import TypeAdapter, ValidationError

from lanner.domain.flows import Concurrency, Flow, Listener, PluginDefault
from lanner.flows.inputs import parse_inputs, parse_labels, parse_outputs
from lanner.flows.loader import STORED_LIMITS, Path, YamlLimits, load_document
from lanner.flows.problems import Problems
from lanner.flows.specs import WORKER_GROUP_EE, SpecBuilder
from lanner.flows.validation import validate_flow
from lanner.tasks.base import Retry
from lanner.tasks.registry import TypeRegistry, default_registry

FLOW_ID_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
NAMESPACE_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
FLOW_ID_MAX = 100
NAMESPACE_MAX = 150

_FLOW_KEYS = frozenset(
    {"id", "namespace", "revision", "description", "labels", "inputs", "variables", "tasks",
     "errors", "finally", "afterExecution", "listeners", "triggers", "pluginDefaults",
     "taskDefaults", "concurrency", "outputs", "retry", "sla", "disabled", "workerGroup",
     "tenantId", "deleted"}
)  # fmt: skip
_RETRY: TypeAdapter[Any] = TypeAdapter(Retry)


def parse_flow(
    source: str, registry: TypeRegistry | None = None, *, limits: YamlLimits | None = None
) -> Flow:
    """Parse and validate one flow; raise :class:`InvalidFlowError` listing every problem.

    ``limits`` bound the YAML load (a source from a request: the configured ones); without, the
    source is one this server stored and is read under :data:`STORED_LIMITS`.
    """
    document = load_document(source, limits or STORED_LIMITS)
    problems = Problems(document)
    data = document.data
    if document.problems and data is None:
        problems.raise_if_any()
    if not isinstance(data, Mapping):
        problems.add((), "Invalid entity: a flow must be a YAML mapping")
        problems.raise_if_any()
    assert isinstance(data, Mapping)
    flow = _FlowReader(data, problems, registry or default_registry).read()
    validate_flow(flow, problems)
    problems.raise_if_any()
    return flow


class _FlowReader:
    def __init__(self, data: Mapping[str, Any], problems: Problems, registry: TypeRegistry):
        self.data = data
        self.problems = problems
        self.registry = registry

    def read(self) -> Flow:
        data, problems = self.data, self.problems
        for key in data:
            if key not in _FLOW_KEYS:
                problems.add(
                    (key,), f'Unrecognized field "{key}" (class Flow), not marked as ignorable'
                )
        defaults_key = "taskDefaults" if "taskDefaults" in data else "pluginDefaults"
        if "taskDefaults" in data and "pluginDefaults" in data:
            problems.add(
                ("taskDefaults",), "use `pluginDefaults` only (`taskDefaults` is its old name)"
            )
        plugin_defaults = self._plugin_defaults(data.get(defaults_key), (defaults_key,))
        specs = SpecBuilder(problems, self.registry, plugin_defaults)
        flow = Flow(
            id=self._identifier("id", FLOW_ID_RE, FLOW_ID_MAX),
            namespace=self._identifier("namespace", NAMESPACE_RE, NAMESPACE_MAX),
            revision=self._revision(),
            description=_text(data.get("description")),
            labels=parse_labels(data.get("labels"), ("labels",), problems),
            inputs=parse_inputs(data.get("inputs"), ("inputs",), problems),
            variables=self._variables(),
            tasks=specs.tasks(data.get("tasks"), ("tasks",), required=True),
            errors=specs.tasks(data.get("errors"), ("errors",)),
            finally_=specs.tasks(data.get("finally"), ("finally",)),
            after_execution=specs.tasks(data.get("afterExecution"), ("afterExecution",)),
            listeners=self._listeners(specs),
            triggers=specs.triggers(data.get("triggers"), ("triggers",)),
            plugin_defaults=plugin_defaults,
            plugin_defaults_key=defaults_key,
            concurrency=self._concurrency(),
            outputs=parse_outputs(data.get("outputs"), ("outputs",), problems),
            retry=self._retry(),
            sla=self._sla(),
            disabled=self._bool("disabled"),
            worker_group=self._worker_group(),
        )
        return flow

    def _identifier(self, key: str, pattern: re.Pattern[str], max_length: int) -> str:
        value = self.data.get(key)
        if value is None:
            self.problems.add((key,), "must not be null")
            return ""
        text = str(value)
        if not text:
            self.problems.add((key,), "must not be empty")
        elif not pattern.fullmatch(text):
            self.problems.add((key,), f'must match "^{pattern.pattern}$"')
        elif len(text) > max_length:
            self.problems.add((key,), f"size must be between 0 and {max_length}")
        return text

    def _revision(self) -> int | None:
        value = self.data.get("revision")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problems.add(("revision",), "must be a positive integer")
            return None
        return value

    def _variables(self) -> Mapping[str, Any] | None:
        value = self.data.get("variables")
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.problems.add(("variables",), "must be a map")
            return None
        return MappingProxyType(dict(value))

    def _bool(self, key: str) -> bool:
        value = self.data.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.problems.add((key,), "must be a boolean")
            return False
        return value

    def _plugin_defaults(self, raw: Any, path: Path) -> tuple[PluginDefault, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problems.add(path, "must be a list")
            return ()
        defaults = []
        for i, item in enumerate(raw):
            where = (*path, i)
            if not isinstance(item, Mapping):
                self.problems.add(where, "must be an object with `type` and `values`")
                continue
            for key in item:
                if key not in ("type", "values", "forced"):
                    self.problems.add((*where, key), f'Unrecognized field "{key}"')
            type_name = item.get("type")
            values = item.get("values") or {}
            if not isinstance(type_name, str) or not type_name:
                self.problems.add((*where, "type"), "must not be null")
                continue
            if not isinstance(values, Mapping):
                self.problems.add((*where, "values"), "must be a map")
                continue
            forced = item.get("forced", False)
            defaults.append(
                PluginDefault(type_name, MappingProxyType(dict(values)), forced is True)
            )
        return tuple(defaults)

    def _listeners(self, specs: SpecBuilder) -> tuple[Listener, ...]:
        raw = self.data.get("listeners")
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problems.add(("listeners",), "must be a list")
            return ()
        listeners = []
        for i, item in enumerate(raw):
            where: Path = ("listeners", i)
            if not isinstance(item, Mapping):
                self.problems.add(where, "must be an object with `tasks`")
                continue
            for key in item:
                if key not in ("tasks", "conditions", "description"):
                    self.problems.add((*where, key), f'Unrecognized field "{key}"')
            listeners.append(
                Listener(
                    tasks=specs.tasks(item.get("tasks"), (*where, "tasks"), required=True),
                    conditions=specs.conditions(item.get("conditions"), (*where, "conditions")),
                    description=_text(item.get("description")),
                )
            )
        return tuple(listeners)

    def _concurrency(self) -> Concurrency | None:
        raw = self.data.get("concurrency")
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.problems.add(("concurrency",), "must be an object with `limit` and `behavior`")
            return None
        for key in raw:
            if key not in ("limit", "behavior"):
                self.problems.add(("concurrency", key), f'Unrecognized field "{key}"')
        limit = raw.get("limit")
        behavior = raw.get("behavior", "QUEUE")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            self.problems.add(("concurrency", "limit"), "must be greater than or equal to 1")
            limit = 1
        if behavior not in ("QUEUE", "CANCEL", "FAIL"):
            self.problems.add(("concurrency", "behavior"), "must be one of QUEUE, CANCEL, FAIL")
            behavior = "QUEUE"
        return Concurrency(limit, str(behavior))

    def _retry(self) -> Mapping[str, Any] | None:
        raw = self.data.get("retry")
        if raw is None:
            return None
        try:
            _RETRY.validate_python(raw)
        except ValidationError as exc:
            for error in exc.errors():
                loc = [p for p in error["loc"] if p not in ("constant", "exponential", "random")]
                self.problems.add(("retry", *map(str, loc)), str(error["msg"]))
            return None
        return MappingProxyType(dict(raw))

    def _sla(self) -> tuple[Mapping[str, Any], ...]:
        raw = self.data.get("sla")
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problems.add(("sla",), "must be a list")
            return ()
        known = {"id", "type", "behavior", "duration", "assert", "labels"}
        slas = []
        for i, item in enumerate(raw):
            where: Path = ("sla", i)
            if not isinstance(item, Mapping):
                self.problems.add(where, "must be an object")
                continue
            for key in item:
                if key not in known:
                    self.problems.add((*where, key), f'Unrecognized field "{key}"')
            if item.get("type") not in ("MAX_DURATION", "EXECUTION_ASSERTION"):
                self.problems.add((*where, "type"), f"Invalid type: {item.get('type')}")
            if item.get("behavior") not in ("FAIL", "CANCEL", "NONE"):
                self.problems.add((*where, "behavior"), "must be one of FAIL, CANCEL, NONE")
            if not item.get("id"):
                self.problems.add((*where, "id"), "must not be null")
            slas.append(MappingProxyType(dict(item)))
        return tuple(slas)

    def _worker_group(self) -> Mapping[str, Any] | None:
        raw = self.data.get("workerGroup")
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.problems.add(("workerGroup",), "must be an object")
            return None
        if raw.get("key") is not None:
            self.problems.add(("workerGroup",), WORKER_GROUP_EE)
        return MappingProxyType(dict(raw))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
