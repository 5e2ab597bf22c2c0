"""Flow and namespace dependencies (Kestra's topology graph) and the namespace search.

``GET /flows/{namespace}/{id}/dependencies`` (``destinationOnly``): the flows connected to this
one through subflow tasks and Flow triggers; ``GET /namespaces/{namespace}/dependencies``: those
of every flow of the namespace; both as ``{nodes, edges}`` (:mod:`lanner.flows.dependencies`).
``GET /namespaces/search`` (``q``, ``page``, ``size``, ``sort``): Kestra OSS's
``PagedResults<NamespaceWithDisabled>``: every namespace holding a flow with each of its parents
(``a.b.c`` lists ``a`` and ``a.b`` too), plus the system flows' namespace ``system`` that
Kestra always lists; ``q`` keeps those containing it (case-insensitive); each is
``{id, deleted: false, disabled: true}`` (OSS namespaces are never "created" entities: Kestra's
MCP server shows them as "not created"). The default page size is Kestra's 10; ``sort`` only
sets the direction, as in Kestra.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.ids import FlowIdPath, NamespacePath
from lanner.api.queries import MAX_PAGE_SIZE, PageParam, SizeParam, check_paging, parse_sort
from lanner.api.wire import JsonResponse
from lanner.engine.submit import parsed_flow
from lanner.errors import ErrorDetail, IllegalArgumentError, NotFoundError
from lanner.flows.dependencies import FlowRef, Relation, connected, relations_of, topology_json

router = APIRouter(tags=["Flows"], default_response_class=JsonResponse)


async def _relations(services: Services, tenant: str) -> tuple[set[FlowRef], list[Relation]]:
    flows: set[FlowRef] = set()
    relations: list[Relation] = []
    for stored in await services.store.list_flows(tenant):
        flow = parsed_flow(stored.source)
        flows.add((flow.namespace, flow.id))
        relations.extend(relations_of(flow))
    return flows, relations


@router.get("/flows/{namespace}/{id}/dependencies", summary="A flow's dependency graph")
async def flow_dependencies(
    namespace: NamespacePath,
    id: FlowIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    destinationOnly: bool = False,
) -> Any:
    flows, relations = await _relations(services, tenant)
    if (namespace, id) not in flows:
        raise NotFoundError(f"Flow {namespace}.{id} not found")
    nodes, edges = connected(relations, [(namespace, id)], destination_only=destinationOnly)
    return topology_json(tenant, nodes, edges)


@router.get("/namespaces/{namespace}/dependencies", summary="A namespace's dependency graph")
async def namespace_dependencies(
    namespace: NamespacePath, services: ServicesDep, tenant: TenantDep
) -> Any:
    flows, relations = await _relations(services, tenant)
    mine = [ref for ref in flows if ref[0] == namespace]
    nodes, edges = connected(relations, mine)
    return topology_json(tenant, nodes, edges)


SYSTEM_NAMESPACE = "system"  # Kestra's kestra.system-flows.namespace default, always listed
_NAMESPACE_SORT_FIELDS = ("id", "namespace")


def namespace_tree(namespace: str) -> list[str]:
    """``a.b.c`` -> ``["a", "a.b", "a.b.c"]`` (Kestra's ``NamespaceUtils.asTree``)."""
    parts = namespace.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@router.get("/namespaces/search", summary="Search namespaces")
async def search_namespaces(
    services: ServicesDep,
    tenant: TenantDep,
    q: str | None = None,
    page: PageParam = 1,
    size: SizeParam = 10,
    sort: Annotated[list[str] | None, Query()] = None,
) -> Any:
    check_paging(page, size)
    if size > MAX_PAGE_SIZE:
        raise IllegalArgumentError(
            f"Invalid entity: size: must be less than or equal to {MAX_PAGE_SIZE}",
            [ErrorDetail("size", f"must be less than or equal to {MAX_PAGE_SIZE}")],
        )
    order = parse_sort(sort or [], _NAMESPACE_SORT_FIELDS)
    # a parent contains q only if its descendant does: the store's filter loses none of them
    names = {SYSTEM_NAMESPACE}
    for namespace in await services.store.distinct_namespaces(tenant, q):
        names.update(namespace_tree(namespace))
    if q:
        names = {name for name in names if q.lower() in name.lower()}
    ordered = sorted(names, reverse=bool(order) and order[0][1])
    chunk = ordered[(page - 1) * size : page * size]
    return {
        "results": [{"id": name, "deleted": False, "disabled": True} for name in chunk],
        "total": len(ordered),
    }
