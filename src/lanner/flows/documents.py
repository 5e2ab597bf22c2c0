"""Flow ↔ JSON and multi-document helpers the HTTP layer uses.

``flow_document`` gives Kestra 1.3's Flow JSON body (camelCase keys as in the YAML, labels as a
list of ``{key, value}``); the API adds ``revision``, ``tenantId``, ``deleted`` and ``source``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from lanner.domain.flows import CASES_PREFIX, ConditionSpec, Flow, TaskSpec, TriggerSpec
from lanner.domain.inputs import InputSpec, OutputSpec

_SEPARATOR_RE = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)
_DOCUMENT_END_RE = re.compile(r"^\.\.\.[ \t]*$", re.MULTILINE)


def split_documents(text: str) -> list[str]:
    """Split a ``---``-separated multi-document YAML body into one source per document.

    Empty documents (a leading ``---``, a trailing one) are dropped; each source keeps its text
    as written so it can be stored as the flow's ``source``.
    """
    parts = _SEPARATOR_RE.split(text)
    sources = []
    for part in parts:
        part = _DOCUMENT_END_RE.split(part)[0]
        if part.strip() and not all(
            line.strip().startswith("#") or not line.strip() for line in part.splitlines()
        ):
            sources.append(part.strip("\n") + "\n")
    return sources


def flow_document(flow: Flow) -> dict[str, Any]:
    """Kestra's Flow JSON (without ``revision``/``tenantId``/``deleted``/``source``)."""
    doc: dict[str, Any] = {"id": flow.id, "namespace": flow.namespace}
    if flow.description is not None:
        doc["description"] = flow.description
    if flow.labels:
        doc["labels"] = [label.to_json() for label in flow.labels]
    if flow.inputs:
        doc["inputs"] = [_input(spec) for spec in flow.inputs]
    if flow.variables is not None:
        doc["variables"] = _plain(flow.variables)
    doc["tasks"] = [task_document(t) for t in flow.tasks]
    for key, tasks in (
        ("errors", flow.errors),
        ("finally", flow.finally_),
        ("afterExecution", flow.after_execution),
    ):
        if tasks:
            doc[key] = [task_document(t) for t in tasks]
    if flow.listeners:
        doc["listeners"] = [
            _without_none(
                {
                    "description": listener.description,
                    "conditions": [_condition(c) for c in listener.conditions] or None,
                    "tasks": [task_document(t) for t in listener.tasks],
                }
            )
            for listener in flow.listeners
        ]
    if flow.triggers:
        doc["triggers"] = [_trigger(t) for t in flow.triggers]
    if flow.plugin_defaults:
        doc["pluginDefaults"] = [
            {"type": d.type, "values": _plain(d.values), "forced": d.forced}
            for d in flow.plugin_defaults
        ]
    if flow.concurrency is not None:
        doc["concurrency"] = {
            "limit": flow.concurrency.limit,
            "behavior": flow.concurrency.behavior,
        }
    if flow.outputs:
        doc["outputs"] = [_output(spec) for spec in flow.outputs]
    if flow.retry is not None:
        doc["retry"] = _plain(flow.retry)
    if flow.sla:
        doc["sla"] = [_plain(s) for s in flow.sla]
    doc["disabled"] = flow.disabled
    if flow.worker_group is not None:
        doc["workerGroup"] = _plain(flow.worker_group)
    return doc


def task_document(task: TaskSpec) -> dict[str, Any]:
    """A task as written (its type as written, its own properties, children rebuilt)."""
    doc: dict[str, Any] = {"id": task.id, "type": task.source_type or task.type}
    doc.update(_plain(task.source_properties))
    doc.pop("id", None)
    doc["id"], doc["type"] = task.id, task.source_type or task.type
    doc = {"id": doc.pop("id"), "type": doc.pop("type"), **doc}
    cases: dict[str, Any] = {}
    for branch, children in task.children.items():
        if branch.startswith(CASES_PREFIX):
            cases[branch[len(CASES_PREFIX) :]] = [task_document(c) for c in children]
        elif any(child.depends_on for child in children) or _is_dag(task, branch):
            doc[branch] = [
                _without_none({"task": task_document(c), "dependsOn": list(c.depends_on) or None})
                for c in children
            ]
        else:
            doc[branch] = [task_document(c) for c in children]
    if cases:
        doc["cases"] = cases
    return doc


def _is_dag(task: TaskSpec, branch: str) -> bool:
    return branch == "tasks" and task.type == "io.kestra.plugin.core.flow.Dag"


def _trigger(trigger: TriggerSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": trigger.id, "type": trigger.source_type or trigger.type}
    doc.update({k: _plain(v) for k, v in trigger.source_properties.items() if k not in doc})
    if trigger.conditions:
        doc["conditions"] = [_condition(c) for c in trigger.conditions]
    return doc


def _condition(condition: ConditionSpec) -> dict[str, Any]:
    return {"type": condition.source_type or condition.type, **_plain(condition.properties)}


def _input(spec: InputSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": spec.id, "type": str(spec.type)}
    if spec.description is not None:
        doc["description"] = spec.description
    if spec.display_name is not None:
        doc["displayName"] = spec.display_name
    doc["required"] = spec.required
    if spec.defaults is not None:
        doc["defaults"] = _plain(spec.defaults)
    if spec.depends_on is not None:
        doc["dependsOn"] = _without_none(
            {"inputs": list(spec.depends_on.inputs), "condition": spec.depends_on.condition}
        )
    doc.update(_plain(spec.properties))
    return doc


def _output(spec: OutputSpec) -> dict[str, Any]:
    return _without_none(
        {
            "id": spec.id,
            "type": str(spec.type),
            "value": _plain(spec.value),
            "description": spec.description,
            "displayName": spec.display_name,
            "required": spec.required,
        }
    )


def _without_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


def _plain(value: Any) -> Any:
    """Mapping proxies and tuples → JSON-ready dicts and lists (copies, never views)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def legacy_type_infos(flow: Flow) -> list[str]:
    """``"<old> is replaced by <new>"`` for every legacy type name the flow uses, once each."""
    infos: dict[str, None] = {}
    for source, current in _types_used(flow):
        if source and source.lower() != current.lower():
            infos[f"{source} is replaced by {current}"] = None
    return list(infos)


def _types_used(flow: Flow) -> Iterator[tuple[str, str]]:
    for task in flow.all_tasks():
        yield task.source_type, task.type
    for trigger in flow.triggers:
        yield trigger.source_type, trigger.type
        for condition in trigger.conditions:
            yield condition.source_type, condition.type
    for listener in flow.listeners:
        for condition in listener.conditions:
            yield condition.source_type, condition.type
