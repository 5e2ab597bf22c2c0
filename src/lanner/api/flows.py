"""Flows API (Kestra 1.3 ``/api/v1[/{tenant}]/flows``): CRUD, revisions, search, validate, bulk,
enable/disable, import and export.

Routes with a fixed second segment come before ``/flows/{namespace}/...`` so they win the match.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import yaml
from fastapi import APIRouter, Request
from starlette.responses import Response

from lanner.api import models
from lanner.api.context import ServicesDep, TenantDep
from lanner.api.deadlines import off_loop
from lanner.api.ids import FlowIdPath, NamespacePath, TaskIdPath
from lanner.api.models import ok
from lanner.api.problems import error_responses
from lanner.api.queries import (
    PageParam,
    RevisionParam,
    SizeParam,
    check_paging,
    parse_filters,
    parse_labels,
    parse_sort,
)
from lanner.api.revisions import (
    SaveMode,
    delete_flow,
    save_source,
)
from lanner.api.wire import JsonResponse, flow_json, flows_json, paged
from lanner.errors import (
    ErrorDetail,
    IllegalArgumentError,
    InvalidFlowError,
    NotFoundError,
)
from lanner.store import FlowQuery, Store, StoredFlow

router = APIRouter(tags=["Flows"], default_response_class=JsonResponse)

SORTABLE = ("id", "namespace", "revision", "updated")
EXPORT_PAGE_SIZE = 500

# The body of the routes that read flow YAML (``read_source``); a JSON flow is accepted too.
YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-yaml": {"schema": {}},
            "application/json": {"schema": {}},
        },
    }
}


async def read_source(request: Request) -> str:
    """The request body as flow YAML; a JSON flow body is converted to YAML (in a thread).

    Its size is bounded by ``lanner.api.limits`` (``max-flow-body-bytes``) while it is read."""
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidFlowError(
            "Invalid entity: body: flow source is not UTF-8", [ErrorDetail("body", "not UTF-8")]
        ) from None
    if not text.strip():
        raise InvalidFlowError(
            "Invalid entity: body: flow source is empty", [ErrorDetail("body", "must not be empty")]
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        text = await off_loop(request.app.state.services.settings, _json_to_yaml, body)
    return text


def _json_to_yaml(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidFlowError(
            "Invalid json: body is not JSON", [ErrorDetail("body", "invalid JSON")]
        ) from None
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except RecursionError:
        raise InvalidFlowError(
            "Invalid json: body is nested too deeply", [ErrorDetail("body", "nested too deeply")]
        ) from None


def flow_query_from(request: Request, tenant: str, page: int, size: int) -> FlowQuery:
    """Legacy params (``q``, ``namespace``, ``labels``) and ``filters[...]`` as a FlowQuery."""
    params = request.query_params
    q = params.get("q") or None
    namespace = params.get("namespace") or None
    labels = parse_labels(params.getlist("labels"))
    for item in parse_filters(params.multi_items()):
        if item.field == "q":
            q = item.value
        elif item.field == "namespace":
            namespace = item.value
        elif item.field == "labels":
            if item.key is not None:
                labels[item.key] = item.value
            else:
                labels.update(parse_labels([item.value]))
        elif item.field == "scope":
            continue
        else:
            raise IllegalArgumentError(
                f"Illegal argument: filter '{item.field}' is not supported on flows",
                [ErrorDetail(f"filters[{item.field}]", "unsupported filter")],
            )
    return FlowQuery(
        tenant_id=tenant,
        q=q,
        namespace=namespace,
        labels=labels,
        page=page,
        size=size,
        sort=parse_sort(params.getlist("sort"), SORTABLE),
    )


async def all_matching(store: Store, query: FlowQuery) -> list[StoredFlow]:
    found: list[StoredFlow] = []
    page = 1
    while True:
        result = await store.search_flows(
            FlowQuery(
                tenant_id=query.tenant_id,
                q=query.q,
                namespace=query.namespace,
                labels=query.labels,
                page=page,
                size=EXPORT_PAGE_SIZE,
                sort=query.sort,
            )
        )
        found.extend(result.results)
        if len(found) >= result.total or not result.results:
            return found
        page += 1


# --- create, validate, import, export, bulk -------------------------------------------------


@router.post(
    "/flows",
    summary="Create a flow from YAML",
    responses={**ok(models.FlowWithSource), **error_responses(409)},
    openapi_extra=YAML_BODY,
)
async def create_flow(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    source = await read_source(request)
    stored = await save_source(
        services.store, tenant, source, SaveMode.CREATE, settings=services.settings
    )
    return flow_json(stored, with_source=True)


# --- search -----------------------------------------------------------------------------------


@router.get("/flows/search", summary="Search flows", responses=ok(models.PagedResults[models.Flow]))
async def search_flows(
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    page: PageParam = 1,
    size: SizeParam = 10,
) -> Any:
    check_paging(page, size)
    result = await services.store.search_flows(flow_query_from(request, tenant, page, size))
    return paged(result, flows_json(result.results))


@router.get(
    "/flows/distinct-namespaces",
    summary="Namespaces that hold flows",
    responses=ok(list[str]),
)
async def distinct_namespaces(
    services: ServicesDep, tenant: TenantDep, q: str | None = None
) -> Any:
    return await services.store.distinct_namespaces(tenant, q)


# --- one flow -------------------------------------------------------------------------------


async def _get_or_404(
    store: Store,
    tenant: str,
    namespace: str,
    flow_id: str,
    revision: int | None = None,
    allow_deleted: bool = False,
) -> StoredFlow:
    stored = await store.get_flow(
        tenant, namespace, flow_id, revision=revision, allow_deleted=allow_deleted
    )
    if stored is None:
        raise NotFoundError(f"Flow '{namespace}.{flow_id}' not found")
    return stored


@router.get(
    "/flows/{namespace}/{id}/revisions",
    summary="Every revision of a flow",
    responses=ok(list[models.FlowWithSource]),
)
async def list_revisions(
    namespace: NamespacePath, id: FlowIdPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    revisions = await services.store.list_flow_revisions(tenant, namespace, id)
    if not revisions:
        raise NotFoundError(f"Flow '{namespace}.{id}' not found")
    return flows_json(revisions, with_source=True)


def _walk_tasks(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _walk_tasks(item)
    elif isinstance(node, dict):
        if "id" in node and "type" in node:
            yield node
        for value in node.values():
            if isinstance(value, list | dict):
                yield from _walk_tasks(value)


@router.get(
    "/flows/{namespace}/{id}/tasks/{taskId}",
    summary="One task of a flow",
    responses=ok(dict[str, Any]),
)
async def get_task(
    namespace: NamespacePath,
    id: FlowIdPath,
    taskId: TaskIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    revision: RevisionParam = None,
) -> Any:
    stored = await _get_or_404(services.store, tenant, namespace, id, revision)
    for key in ("tasks", "errors", "finally", "afterExecution"):
        for task in _walk_tasks(stored.document.get(key)):
            if task.get("id") == taskId:
                return task
    raise NotFoundError(f"Task '{taskId}' not found in flow '{namespace}.{id}'")


@router.get(
    "/flows/{namespace}/{id}",
    summary="Get a flow",
    responses=ok(models.Flow, "a Flow, with its source when source=true"),
)
async def get_flow(
    namespace: NamespacePath,
    id: FlowIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    source: bool = False,
    revision: RevisionParam = None,
    allowDeleted: bool = False,
) -> Any:
    stored = await _get_or_404(services.store, tenant, namespace, id, revision, allowDeleted)
    return flow_json(stored, with_source=source)


@router.put(
    "/flows/{namespace}/{id}",
    summary="Update a flow (creates it when absent)",
    responses={**ok(models.FlowWithSource), **error_responses(409)},
    openapi_extra=YAML_BODY,
)
async def update_flow(
    namespace: NamespacePath,
    id: FlowIdPath,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
) -> Any:
    source = await read_source(request)
    stored = await save_source(
        services.store, tenant, source, SaveMode.UPSERT,
        settings=services.settings, namespace=namespace, flow_id=id,
    )  # fmt: skip
    return flow_json(stored, with_source=True)


@router.delete(
    "/flows/{namespace}/{id}",
    status_code=204,
    summary="Delete a flow",
    response_class=Response,
    responses=error_responses(409),
)
async def remove_flow(
    namespace: NamespacePath, id: FlowIdPath, services: ServicesDep, tenant: TenantDep
) -> Response:
    await delete_flow(services.store, tenant, namespace, id)
    return Response(status_code=204)


@router.get("/flows/{namespace}", summary="Flows of a namespace", responses=ok(list[models.Flow]))
async def list_flows(namespace: NamespacePath, services: ServicesDep, tenant: TenantDep) -> Any:
    return flows_json(await services.store.list_flows(tenant, namespace))
