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

from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.execution_access import storage_of
from lanner.api.limits import read_form
from lanner.api.wire import JsonResponse
from lanner.errors import ErrorDetail, IllegalArgumentError, NotFoundError
from lanner.storage import NamespaceFiles

router = APIRouter(tags=["Files"], default_response_class=JsonResponse)

PREFIX = "/namespaces/{namespace}/files"
FILE_PART = "fileContent"


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


@router.get(PREFIX, summary="Download a namespace file (or list a directory)")
async def get_file(
    namespace: str, services: ServicesDep, tenant: TenantDep, path: str | None = None
) -> Response:
    files = files_of(services)
    attributes = await files.stats(tenant, namespace, path)
    if attributes.is_directory:
        listing = await files.list_directory(tenant, namespace, path)
        return JsonResponse([entry.to_json() for entry in listing])
    assert path is not None  # the root is a directory
    data = await files.read(tenant, namespace, path)
    name = attributes.file_name.replace('"', "")
    return StreamingResponse(
        iter([data]),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(PREFIX, summary="Upload a namespace file (multipart fileContent or raw body)")
async def upload_file(
    namespace: str,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    path: str | None = None,
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


@router.put(PREFIX, summary="Move or rename a namespace file or directory")
async def move_file(
    namespace: str,
    services: ServicesDep,
    tenant: TenantDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> Response:
    await files_of(services).move(tenant, namespace, _required(from_, "from"), _required(to, "to"))
    return Response(status_code=200)


@router.delete(PREFIX, summary="Delete a namespace file or directory")
async def delete_file(
    namespace: str, services: ServicesDep, tenant: TenantDep, path: str | None = None
) -> Response:
    target = _required(path, "path")
    if not await files_of(services).delete(tenant, namespace, target):
        raise NotFoundError(f"namespace file '{target}' not found")
    return Response(status_code=200)


@router.get(PREFIX + "/directory", summary="List a directory")
async def list_directory(
    namespace: str, services: ServicesDep, tenant: TenantDep, path: str | None = None
) -> Any:
    listing = await files_of(services).list_directory(tenant, namespace, path)
    return [entry.to_json() for entry in listing]


@router.post(PREFIX + "/directory", summary="Create a directory")
async def make_directory(
    namespace: str, services: ServicesDep, tenant: TenantDep, path: str | None = None
) -> Response:
    await files_of(services).make_directory(tenant, namespace, _required(path, "path"))
    return Response(status_code=200)


@router.get(PREFIX + "/stats", summary="Attributes of a file or directory")
async def stats(
    namespace: str, services: ServicesDep, tenant: TenantDep, path: str | None = None
) -> Any:
    return (await files_of(services).stats(tenant, namespace, path)).to_json()


@router.get(PREFIX + "/search", summary="Paths of the files matching q")
async def search(namespace: str, services: ServicesDep, tenant: TenantDep, q: str = "") -> Any:
    return await files_of(services).search(tenant, namespace, q)
