"""Namespace files: ``/namespaces/{namespace}/files`` (reference §3.5).

Upload takes Kestra's multipart part ``fileContent`` or, as in the user's reference, the raw
request body; ``GET`` without ``path`` lists the root (the user's reference), with the path of a
directory lists it, else downloads the file. ``PUT ?from=&to=`` moves, ``DELETE`` removes
(directories recursively, empty parents pruned); ``/directory``, ``/stats`` and ``/search`` answer
``FileAttributes`` and paths. Files live in internal storage at
``kestra:///<namespace as path>/_files/<path>``. Imports the storage and this package.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response, StreamingResponse

from lanner.api import models
from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.execution_access import storage_of
from lanner.api.ids import NamespacePath
from lanner.api.limits import read_form
from lanner.api.models import ok
from lanner.api.problems import error_responses
from lanner.api.wire import JsonResponse, content_disposition
from lanner.errors import ErrorDetail, IllegalArgumentError, NotFoundError
from lanner.storage import NamespaceFiles

router = APIRouter(tags=["Files"], default_response_class=JsonResponse)

PREFIX = "/namespaces/{namespace}/files"
FILE_PART = "fileContent"
# What ``relative_path`` accepts: ``/``-separated segments, none empty, ``.``, ``..``, with ``\``
# or NUL (``/_flows`` aside).
_SEGMENT = r"(?:[^/\\\x00.\s][^/\\\x00]*|\.[^/\\\x00.][^/\\\x00]*|\.\.[^/\\\x00]+)"
PATH_PATTERN = rf"^/*{_SEGMENT}(?:/{_SEGMENT})*/*$"
# ``_required`` checks these itself (422 when absent or blank): documented, not declared.
HiddenQuery = Annotated[str | None, Query(include_in_schema=False)]


def required_query(*names: str) -> dict[str, Any]:
    """``openapi_extra`` naming required, non-blank query parameters."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": True,
                "schema": {"type": "string", "pattern": PATH_PATTERN},
            }
            for name in names
        ]
    }


FILE_OR_LISTING: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file's bytes, or the listing of a directory",
        "model": list[models.FileAttributes],
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def files_of(services: Services) -> NamespaceFiles:
    """Namespace files over the same storage root as every execution file."""
    return NamespaceFiles(storage_of(services))


def _required(value: str | None, name: str) -> str:
    if value is None or not value.strip():
        raise IllegalArgumentError(
            f"Illegal argument: the query parameter '{name}' is required",
            [ErrorDetail(name, "required")],
        )
    return value


@router.get(
    PREFIX, summary="Download a namespace file (or list a directory)", responses=FILE_OR_LISTING
)
async def get_file(
    namespace: NamespacePath, services: ServicesDep, tenant: TenantDep, path: str | None = None
) -> Response:
    files = files_of(services)
    attributes = await files.stats(tenant, namespace, path)
    if attributes.is_directory:
        listing = await files.list_directory(tenant, namespace, path)
        return JsonResponse([entry.to_json() for entry in listing])
    assert path is not None  # the root is a directory
    data = await files.read(tenant, namespace, path)
    return StreamingResponse(
        iter([data]),
        media_type="application/octet-stream",
        headers={"Content-Disposition": content_disposition(attributes.file_name)},
    )


@router.post(
    PREFIX,
    summary="Upload a namespace file (multipart fileContent or raw body)",
    response_class=Response,
    responses=error_responses(409),
    openapi_extra=required_query("path"),
)
async def upload_file(
    namespace: NamespacePath,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    path: HiddenQuery = None,
) -> Response:
    target = _required(path, "path")
    files = files_of(services)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await read_form(request, services.settings, max_files=1, max_fields=10)
        part = form.get(FILE_PART)
        if not isinstance(part, UploadFile):
            raise IllegalArgumentError(
                f"Illegal argument: expected a file part named '{FILE_PART}'",
                [ErrorDetail(FILE_PART, "required")],
            )
        await files.write(tenant, namespace, target, part.file)
        return Response(status_code=200)
    body = await request.body()
    if not body and target.endswith("/"):
        await files.make_directory(tenant, namespace, target)
    else:
        await files.write(tenant, namespace, target, body)
    return Response(status_code=200)


@router.put(
    PREFIX,
    summary="Move or rename a namespace file or directory",
    response_class=Response,
    responses=error_responses(409),
    openapi_extra=required_query("from", "to"),
)
async def move_file(
    namespace: NamespacePath,
    services: ServicesDep,
    tenant: TenantDep,
    from_: Annotated[str | None, Query(alias="from", include_in_schema=False)] = None,
    to: HiddenQuery = None,
) -> Response:
    await files_of(services).move(tenant, namespace, _required(from_, "from"), _required(to, "to"))
    return Response(status_code=200)


@router.delete(
    PREFIX,
    summary="Delete a namespace file or directory",
    response_class=Response,
    responses=error_responses(409),
    openapi_extra=required_query("path"),
)
async def delete_file(
    namespace: NamespacePath, services: ServicesDep, tenant: TenantDep, path: HiddenQuery = None
) -> Response:
    target = _required(path, "path")
    if not await files_of(services).delete(tenant, namespace, target):
        raise NotFoundError(f"namespace file '{target}' not found")
    return Response(status_code=200)


@router.get(
    PREFIX + "/directory",
    summary="List a directory",
    responses={**ok(list[models.FileAttributes]), **error_responses(409)},
)
async def list_directory(
    namespace: NamespacePath, services: ServicesDep, tenant: TenantDep, path: str | None = None
) -> Any:
    listing = await files_of(services).list_directory(tenant, namespace, path)
    return [entry.to_json() for entry in listing]


@router.post(
    PREFIX + "/directory",
    summary="Create a directory",
    response_class=Response,
    responses=error_responses(409),
    openapi_extra=required_query("path"),
)
async def make_directory(
    namespace: NamespacePath, services: ServicesDep, tenant: TenantDep, path: HiddenQuery = None
) -> Response:
    await files_of(services).make_directory(tenant, namespace, _required(path, "path"))
    return Response(status_code=200)


@router.get(
    PREFIX + "/stats",
    summary="Attributes of a file or directory",
    responses=ok(models.FileAttributes),
)
async def stats(
    namespace: NamespacePath, services: ServicesDep, tenant: TenantDep, path: str | None = None
) -> Any:
    return (await files_of(services).stats(tenant, namespace, path)).to_json()


@router.get(PREFIX + "/search", summary="Paths of the files matching q", responses=ok(list[str]))
async def search(
    namespace: NamespacePath, services: ServicesDep, tenant: TenantDep, q: str = ""
) -> Any:
    return await files_of(services).search(tenant, namespace, q)
