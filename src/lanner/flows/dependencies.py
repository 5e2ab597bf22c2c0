"""Which flows depend on which, as Kestra's topology graph draws them (pure).

A ``Subflow``/``ForEachItem`` task is an edge from its flow to the flow it starts (``FLOW_TASK``);
a ``Flow`` trigger is an edge from each upstream flow it names (``ExecutionFlow`` conditions,
``preconditions.flows``) to the flow it triggers (``FLOW_TRIGGER``). Templated references
(``{{ ... }}``) are left out: they are only known at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lanner.domain.flows import Flow

FlowRef = tuple[str, str]  # (namespace, id)
FLOW_TRIGGER_TYPE = "io.kestra.plugin.core.trigger.Flow"
EXECUTION_FLOW_CONDITION = "io.kestra.plugin.core.condition.ExecutionFlow"


@dataclass(frozen=True, slots=True)
class Relation:
    source: FlowRef
    target: FlowRef
    relation: str  # FLOW_TASK or FLOW_TRIGGER


def _ref(namespace: Any, flow_id: Any) -> FlowRef | None:
    if not isinstance(namespace, str) or not isinstance(flow_id, str):
        return None
    if "{{" in namespace or "{{" in flow_id or not namespace or not flow_id:
        return None
    return (namespace, flow_id)


def relations_of(flow: Flow) -> Iterator[Relation]:
    """The edges ``flow`` declares: its subflows, and the upstream flows of its Flow triggers."""
    me = (flow.namespace, flow.id)
    for task in flow.all_tasks():
        if task.is_executable:
            target = _ref(task.properties.get("namespace"), task.properties.get("flowId"))
            if target is not None:
                yield Relation(me, target, "FLOW_TASK")
    for trigger in flow.triggers:
        if trigger.type != FLOW_TRIGGER_TYPE:
            continue
        upstream: list[FlowRef | None] = [
            _ref(c.properties.get("namespace"), c.properties.get("flowId"))
            for c in trigger.conditions
            if c.type == EXECUTION_FLOW_CONDITION
        ]
        preconditions = trigger.properties.get("preconditions")
        if isinstance(preconditions, Mapping):
            for item in preconditions.get("flows") or ():
                if isinstance(item, Mapping):
                    upstream.append(_ref(item.get("namespace"), item.get("flowId")))
        for source in upstream:
            if source is not None:
                yield Relation(source, me, "FLOW_TRIGGER")


def connected(
    relations: Iterable[Relation], start: Iterable[FlowRef], *, destination_only: bool = False
) -> tuple[set[FlowRef], set[Relation]]:
    """The flows reachable from ``start`` (both ways, or downstream only) and their edges."""
    edges = set(relations)
    nodes = set(start)
    todo = list(nodes)
    found: set[Relation] = set()
    while todo:
        current = todo.pop()
        for edge in edges:
            if edge.source == current:
                other = edge.target
            elif edge.target == current and not destination_only:
                other = edge.source
            else:
                continue
            found.add(edge)
            if other not in nodes:
                nodes.add(other)
                todo.append(other)
    return nodes, found


def topology_json(tenant: str, nodes: set[FlowRef], edges: set[Relation]) -> dict[str, Any]:
    """Kestra's ``FlowTopologyGraph``: nodes ``{uid, tenantId, namespace, id}``, edges by uid."""

    def uid(ref: FlowRef) -> str:
        return f"{tenant}_{ref[0]}_{ref[1]}"

    return {
        "nodes": [
            {"uid": uid(ref), "tenantId": tenant, "namespace": ref[0], "id": ref[1]}
            for ref in sorted(nodes)
        ],
        "edges": [
            {"source": uid(e.source), "target": uid(e.target), "relation": e.relation}
            for e in sorted(edges, key=lambda e: (e.source, e.target, e.relation))
        ],
    }
