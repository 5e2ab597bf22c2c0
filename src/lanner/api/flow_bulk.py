"""Flows API, many flows at once: validate, namespace and tenant bulk updates, import and
export, enable/disable and delete by ids or by query.

Its router is mounted before ``lanner.api.flows``'s so ``/flows/validate`` and friends win over
``/flows/{namespace}/...``.
"""

from __future__ import annotations

import io
import zipfile
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, UploadFile
from starlette.responses import Response

from lanner.api import models
from lanner.api.context import ServicesDep, TenantDep
from lanner.api.deadlines import off_loop, yaml_limits
from lanner.api.flows import (
    EXPORT_PAGE_SIZE,
    YAML_BODY,
    all_matching,
    flow_query_from,
    read_source,
)
from lanner.api.ids import NamespacePath
from lanner.api.models import ok
from lanner.api.problems import error_responses
from lanner.api.revisions import SaveMode, delete_flow, save_parsed, set_disabled
from lanner.api.wire import BinaryResponse, JsonResponse, content_disposition, flow_json
from lanner.config import Settings
from lanner.errors import (
    BadRequestError,
    ErrorDetail,
    IllegalArgumentError,
    InvalidFlowError,
    LannerError,
    NotFoundError,
)
from lanner.flows import Flow, legacy_type_infos, parse_for_save, split_documents
from lanner.flows.loader import YamlLimits, load_document
from lanner.store import Store, StoredFlow

router = APIRouter(tags=["Flows"], default_response_class=JsonResponse)

# ``read_id_pairs``'s body; an absent body is an empty list.
ID_PAIRS_BODY: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "namespace": {"type": "string", "minLength": 1},
                            "id": {"type": "string", "minLength": 1},
                        },
                        "required": ["namespace", "id"],
                    },
                }
            }
        }
    }
}
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
"""All the YAML an imported zip may unpack to; members past it are reported as failed."""


async def read_id_pairs(request: Request) -> list[tuple[str, str]]:
    """A JSON body ``[{"namespace": ..., "id": ...}, ...]``."""
    try:
        data = orjson.loads(await request.body() or b"[]")
    except orjson.JSONDecodeError:
        raise IllegalArgumentError("Invalid json", [ErrorDetail("body", "invalid JSON")]) from None
    if not isinstance(data, list):
        raise IllegalArgumentError("Invalid json mapping", [ErrorDetail("body", "expected a list")])
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(key), str) and item[key] for key in ("namespace", "id")
        ):
            raise IllegalArgumentError(
                "Invalid json mapping",
                [ErrorDetail(f"body[{index}]", "expected {namespace, id}")],
            )
        pairs.append((str(item["namespace"]), str(item["id"])))
    return pairs


def _peek_identity(source: str, limits: YamlLimits) -> tuple[str | None, str | None]:
    data = load_document(source, limits).data
    if not isinstance(data, dict):
        return None, None
    flow_id, namespace = data.get("id"), data.get("namespace")
    return (
        str(flow_id) if flow_id is not None else None,
        str(namespace) if namespace is not None else None,
    )


@router.post(
    "/flows/validate",
    summary="Validate flows (multi-document YAML)",
    responses=ok(list[models.ValidateConstraintViolation]),
    openapi_extra=YAML_BODY,
)
async def validate_flows(request: Request, services: ServicesDep) -> Any:
    text = await read_source(request)
    settings = services.settings
    return await off_loop(settings, _validate_all, text, yaml_limits(settings))


def _validate_all(text: str, limits: YamlLimits) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for index, source in enumerate(split_documents(text)):
        entry: dict[str, Any] = {
            "index": index,
            "outdated": False,
            "deprecationPaths": [],
            "warnings": [],
            "infos": [],
        }
        flow_id, namespace = _peek_identity(source, limits)
        try:
            flow = parse_for_save(source, limits=limits)
        except InvalidFlowError as exc:
            entry["constraints"] = "\n".join(f"{d.path}: {d.message}" for d in exc.details) or (
                exc.message
            )
        else:
            flow_id, namespace = flow.id, flow.namespace
            entry["infos"] = legacy_type_infos(flow)
        if flow_id is not None:
            entry["flow"] = flow_id
        if namespace is not None:
            entry["namespace"] = namespace
        results.append(entry)
    return results


def _parse_all(sources: list[str], limits: YamlLimits) -> list[tuple[Flow, str]]:
    """Parse every document; one error report for all of them, nothing saved on error."""
    parsed: list[tuple[Flow, str]] = []
    details: list[ErrorDetail] = []
    seen: set[tuple[str, str]] = set()
    for index, source in enumerate(sources):
        try:
            flow = parse_for_save(source, limits=limits)
        except InvalidFlowError as exc:
            details.extend(ErrorDetail(f"[{index}].{d.path}", d.message) for d in exc.details)
            continue
        key = (flow.namespace, flow.id)
        if key in seen:
            details.append(ErrorDetail(f"[{index}].id", f"Duplicate flow id '{flow.id}'"))
        seen.add(key)
        parsed.append((flow, source))
    if details:
        text = ", ".join(f"{d.path}: {d.message}" for d in details)
        raise InvalidFlowError(f"Invalid entity: {text}", details)
    return parsed


async def _bulk_update(
    store: Store, settings: Settings, tenant: str, sources: list[str], namespace: str | None,
    delete: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    parsed = await off_loop(settings, _parse_all, sources, yaml_limits(settings))
    if namespace is not None:
        wrong = [
            ErrorDetail(f"[{i}].namespace", f"Flow namespace must be '{namespace}'")
            for i, (flow, _) in enumerate(parsed)
            if flow.namespace != namespace
        ]
        if wrong:
            raise InvalidFlowError(
                f"Invalid entity: flow namespace is invalid, expected '{namespace}'", wrong
            )
    answer: list[dict[str, Any]] = []
    if delete:
        namespaces = {namespace} if namespace is not None else {f.namespace for f, _ in parsed}
        keep = {(f.namespace, f.id) for f, _ in parsed}
        for ns in sorted(namespaces):
            for existing in await store.list_flows(tenant, ns):
                if (existing.namespace, existing.id) not in keep:
                    deleted = await delete_flow(store, tenant, existing.namespace, existing.id)
                    answer.append(flow_json(deleted, with_source=True))
    for flow, source in parsed:
        stored, _ = await save_parsed(store, tenant, flow, source, SaveMode.UPSERT)
        answer.append(flow_json(stored, with_source=True))
    return answer


@router.post(
    "/flows/bulk",
    summary="Create or update many flows (multi-document YAML)",
    responses={**ok(list[models.FlowWithSource]), **error_responses(409)},
    openapi_extra=YAML_BODY,
)
async def bulk_update_flows(
    request: Request, services: ServicesDep, tenant: TenantDep, delete: bool = True
) -> Any:
    sources = split_documents(await read_source(request))
    return await _bulk_update(services.store, services.settings, tenant, sources, None, delete)


def _sources_from_upload(name: str, content: bytes, max_bytes: int) -> list[tuple[str, str | None]]:
    """``(name, source)`` of each document; ``None`` for a zip member over ``max_bytes``, or
    past :data:`MAX_UNZIPPED_BYTES` in all (zip bombs are read no further)."""
    lower = name.lower()
    if lower.endswith((".yml", ".yaml")):
        text = content.decode("utf-8", errors="replace")
        return [(f"{name}[{i}]", s) for i, s in enumerate(split_documents(text))]
    if lower.endswith(".zip"):
        found: list[tuple[str, str | None]] = []
        budget = MAX_UNZIPPED_BYTES
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                for info in archive.infolist():
                    if info.is_dir() or not info.filename.lower().endswith((".yml", ".yaml")):
                        continue
                    with archive.open(info) as member:  # read bounded: no zip bomb
                        raw = member.read(min(max_bytes, budget) + 1)
                    budget -= len(raw)
                    if len(raw) > max_bytes or budget < 0:
                        found.append((info.filename, None))
                        continue
                    text = raw.decode("utf-8", errors="replace")
                    found.extend(
                        (f"{info.filename}[{i}]" if i else info.filename, s)
                        for i, s in enumerate(split_documents(text))
                    )
        except zipfile.BadZipFile:
            raise IllegalArgumentError(
                "Illegal argument: not a zip file", [ErrorDetail("fileUpload", "bad zip")]
            ) from None
        return found
    raise IllegalArgumentError(
        "Illegal argument: cannot import file of this type, use .yml, .yaml or .zip",
        [ErrorDetail("fileUpload", "unsupported extension")],
    )


@router.post(
    "/flows/import",
    summary="Import flows from a YAML or zip file",
    responses={
        **ok(list[str], "the names of the documents that failed"),
        **error_responses(400),
    },
)
async def import_flows(
    services: ServicesDep, tenant: TenantDep, fileUpload: UploadFile | None = None
) -> Any:
    if fileUpload is None:
        raise BadRequestError(
            "Required part [fileUpload] not specified", [ErrorDetail("fileUpload", "missing")]
        )
    content = await fileUpload.read()
    settings = services.settings
    limits = yaml_limits(settings)
    parsed = await off_loop(settings, _parse_uploaded, fileUpload.filename or "", content, limits)
    failed: list[str] = []
    for name, flow, source in parsed:
        if flow is None:
            failed.append(name)
            continue
        try:
            await save_parsed(services.store, tenant, flow, source, SaveMode.UPSERT)
        except LannerError:
            failed.append(name)
    return failed


def _parse_uploaded(
    filename: str, content: bytes, limits: YamlLimits
) -> list[tuple[str, Flow | None, str]]:
    """Each flow of an uploaded file, ``None`` where it does not parse."""
    parsed: list[tuple[str, Flow | None, str]] = []
    for name, source in _sources_from_upload(filename, content, 4 * limits.max_chars):
        if source is None:
            parsed.append((name, None, ""))
            continue
        try:
            flow = parse_for_save(source, limits=limits)
        except InvalidFlowError:
            parsed.append((name, None, source))
            continue
        parsed.append((name, flow, source))
    return parsed


def _zip_of(flows: list[StoredFlow]) -> Response:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for flow in flows:
            archive.writestr(f"{flow.namespace}.{flow.id}.yml", flow.source)
    return Response(
        buffer.getvalue(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": content_disposition("flows.zip")},
    )


@router.get(
    "/flows/export/by-query",
    summary="Export the flows matching a query as a zip",
    response_class=BinaryResponse,
)
async def export_by_query(request: Request, services: ServicesDep, tenant: TenantDep) -> Response:
    query = flow_query_from(request, tenant, 1, EXPORT_PAGE_SIZE)
    return _zip_of(await all_matching(services.store, query))


@router.post(
    "/flows/export/by-ids",
    summary="Export the given flows as a zip",
    response_class=BinaryResponse,
    openapi_extra=ID_PAIRS_BODY,
)
async def export_by_ids(request: Request, services: ServicesDep, tenant: TenantDep) -> Response:
    flows = []
    for namespace, flow_id in await read_id_pairs(request):
        stored = await services.store.get_flow(tenant, namespace, flow_id)
        if stored is not None:
            flows.append(stored)
    return _zip_of(flows)


# --- bulk delete / enable / disable ---------------------------------------------------------


async def _targets_by_query(request: Request, store: Store, tenant: str) -> list[tuple[str, str]]:
    query = flow_query_from(request, tenant, 1, EXPORT_PAGE_SIZE)
    return [(f.namespace, f.id) for f in await all_matching(store, query)]


async def _bulk_delete(store: Store, tenant: str, targets: list[tuple[str, str]]) -> Any:
    count = 0
    for namespace, flow_id in targets:
        try:
            await delete_flow(store, tenant, namespace, flow_id)
        except NotFoundError:
            continue
        count += 1
    return {"count": count}


async def _bulk_toggle(
    store: Store, tenant: str, targets: list[tuple[str, str]], disabled: bool,
    settings: Settings,
) -> Any:  # fmt: skip
    count = 0
    for namespace, flow_id in targets:
        if await set_disabled(store, tenant, namespace, flow_id, disabled, settings) is not None:
            count += 1
    return {"count": count}


@router.delete(
    "/flows/delete/by-ids",
    summary="Delete the given flows",
    responses={**ok(models.BulkResponse), **error_responses(409)},
    openapi_extra=ID_PAIRS_BODY,
)
async def delete_by_ids(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    return await _bulk_delete(services.store, tenant, await read_id_pairs(request))


@router.delete(
    "/flows/delete/by-query",
    summary="Delete the flows matching a query",
    responses={**ok(models.BulkResponse), **error_responses(409)},
)
async def delete_by_query(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    targets = await _targets_by_query(request, services.store, tenant)
    return await _bulk_delete(services.store, tenant, targets)


@router.post(
    "/flows/disable/by-ids",
    summary="Disable the given flows",
    responses={**ok(models.BulkResponse), **error_responses(409)},
    openapi_extra=ID_PAIRS_BODY,
)
async def disable_by_ids(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    return await _bulk_toggle(
        services.store, tenant, await read_id_pairs(request), True, services.settings
    )


@router.post(
    "/flows/disable/by-query",
    summary="Disable the flows matching a query",
    responses={**ok(models.BulkResponse), **error_responses(409)},
)
async def disable_by_query(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    targets = await _targets_by_query(request, services.store, tenant)
    return await _bulk_toggle(services.store, tenant, targets, True, services.settings)


@router.post(
    "/flows/enable/by-ids",
    summary="Enable the given flows",
    responses={**ok(models.BulkResponse), **error_responses(409)},
    openapi_extra=ID_PAIRS_BODY,
)
async def enable_by_ids(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    return await _bulk_toggle(
        services.store, tenant, await read_id_pairs(request), False, services.settings
    )


@router.post(
    "/flows/enable/by-query",
    summary="Enable the flows matching a query",
    responses={**ok(models.BulkResponse), **error_responses(409)},
)
async def enable_by_query(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    targets = await _targets_by_query(request, services.store, tenant)
    return await _bulk_toggle(services.store, tenant, targets, False, services.settings)


@router.post(
    "/flows/{namespace}",
    summary="Update every flow of a namespace at once",
    responses={**ok(list[models.FlowWithSource]), **error_responses(409)},
    openapi_extra=YAML_BODY,
)
async def update_namespace(
    namespace: NamespacePath,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    delete: Annotated[bool, Query()] = True,
) -> Any:
    sources = split_documents(await read_source(request))
    return await _bulk_update(services.store, services.settings, tenant, sources, namespace, delete)
