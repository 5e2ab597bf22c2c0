"""The namespace KV store: ``/namespaces/{namespace}/kv`` (reference §3.6, Kestra 1.3 shapes).

``PUT`` takes Kestra's Ion-ish text (see :func:`lanner.domain.kv.parse_literal`) as
``application/json`` or ``text/plain``, an optional ``ttl`` header (ISO-8601 duration) and a 1.x
``description`` header. ``GET`` of an expired entry is 410, of a missing one 404; the list hides
expired entries. Imports the domain, the store protocols and this package.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from lanner.api import models
from lanner.api.context import ServicesDep, TenantDep
from lanner.api.ids import KVKeyPath, NamespacePath
from lanner.api.models import json_body, ok
from lanner.api.problems import error_responses
from lanner.api.wire import JsonResponse
from lanner.domain.kv import KEY_PATTERN, InvalidKVValue, KVEntry, check_key, parse_literal
from lanner.domain.times import format_instant, parse_duration
from lanner.errors import ErrorDetail, GoneError, IllegalArgumentError, NotFoundError
from lanner.store import KVStore

router = APIRouter(tags=["KV"], default_response_class=JsonResponse)

MAX_VALUE_BYTES = 10 * 1024 * 1024
PREFIX = "/namespaces/{namespace}/kv"
# Positive ISO-8601 durations (``_ttl`` reads Java's whole ``Duration.parse`` syntax).
TTL_PATTERN = r"^(?:P(?:[0-9]{1,4}D|(?:[0-9]{1,4}D)?T[0-9]{1,6}[HMS])|\s*)$"
# A JSON (or Ion) literal; null cannot be stored. A ``text/plain`` body is read the same way,
# but "JSON text" is no schema a string can be checked against, so only JSON is documented.
KV_VALUE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "a JSON literal (also accepted as text/plain)",
        "content": {"application/json": {"schema": {"not": {"type": "null"}}}},
    }
}


def _key(key: str) -> str:
    try:
        return check_key(key)
    except InvalidKVValue as error:
        raise IllegalArgumentError(
            f"Illegal argument: {error}", [ErrorDetail("key", str(error))]
        ) from None


def _ttl(raw: str | None) -> timedelta | None:
    if raw is None or not raw.strip():
        return None
    ttl = parse_duration(raw)
    if ttl is None or ttl < timedelta(0):
        raise IllegalArgumentError(
            f"Illegal argument: ttl must be a positive ISO-8601 duration, got '{raw}'",
            [ErrorDetail("ttl", "a positive ISO-8601 duration (PT1H)")],
        )
    return ttl


def entry_json(entry: KVEntry) -> dict[str, Any]:
    """Kestra's ``KVEntry`` (1.x fields included; null ones omitted)."""
    body: dict[str, Any] = {
        "namespace": entry.namespace,
        "key": entry.key,
        "description": entry.description,
        "creationDate": format_instant(entry.created),
        "updateDate": format_instant(entry.updated),
        "expirationDate": format_instant(entry.expires) if entry.expires else None,
        "version": entry.revision,
    }
    return {name: value for name, value in body.items() if value is not None}


async def _live_entry(kv: KVStore, tenant: str, namespace: str, key: str) -> KVEntry:
    entry = await kv.get_kv(tenant, namespace, key)
    if entry is None:
        raise NotFoundError(f"No value found for key '{key}' in namespace '{namespace}'")
    if entry.is_expired(datetime.now(UTC)):
        raise GoneError(f"The requested value has expired: key '{key}' in '{namespace}'")
    return entry


@router.get(PREFIX, summary="List the keys of a namespace", responses=ok(list[models.KVEntry]))
async def list_keys(namespace: NamespacePath, services: ServicesDep, tenant: TenantDep) -> Any:
    return [entry_json(entry) for entry in await services.store.list_kv(tenant, namespace)]


@router.delete(
    PREFIX,
    summary="Delete several keys",
    responses=ok(models.KVKeys),
    openapi_extra=json_body(
        {
            "type": "object",
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {"type": "string", "pattern": KEY_PATTERN.pattern},
                }
            },
            "required": ["keys"],
        }
    ),
)
async def delete_keys(
    namespace: NamespacePath, request: Request, services: ServicesDep, tenant: TenantDep
) -> Any:
    try:
        body = await request.json()
    except ValueError:
        body = None
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise IllegalArgumentError(
            'Illegal argument: expected a body {"keys": ["key", ...]}',
            [ErrorDetail("keys", "a list of keys")],
        )
    deleted = await services.store.delete_kv(tenant, namespace, [_key(key) for key in keys])
    return {"keys": deleted}


@router.get(
    PREFIX + "/{key}",
    summary="Get a value",
    responses={**ok(models.KVDetail), **error_responses(410)},
)
async def get_value(
    namespace: NamespacePath, key: KVKeyPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    entry = await _live_entry(services.store, tenant, namespace, _key(key))
    return {
        "type": entry.type.value,
        "value": entry.value,
        "revision": entry.revision,
        "updated": format_instant(entry.updated),
    }


@router.put(
    PREFIX + "/{key}",
    summary="Set a value",
    response_class=Response,
    responses=error_responses(409),
    openapi_extra=KV_VALUE_BODY,
)
async def put_value(
    namespace: NamespacePath,
    key: KVKeyPath,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    ttl: Annotated[str, Header(json_schema_extra={"pattern": TTL_PATTERN})] = "",
    description: str | None = Header(default=None),
) -> Response:
    checked = _key(key)
    expiry = _ttl(ttl)
    raw = await request.body()
    if len(raw) > MAX_VALUE_BYTES:
        raise IllegalArgumentError(
            f"Illegal argument: a KV value is limited to {MAX_VALUE_BYTES} bytes",
            [ErrorDetail("value", "too large")],
        )
    try:
        value = parse_literal(raw.decode("utf-8"))
    except (InvalidKVValue, UnicodeDecodeError) as error:
        raise IllegalArgumentError(
            f"Illegal argument: {error}", [ErrorDetail("value", str(error))]
        ) from None
    await services.store.put_kv(
        tenant, namespace, checked, value, ttl=expiry, description=description
    )
    return Response(status_code=200)


@router.delete(PREFIX + "/{key}", summary="Delete a value", responses=ok(bool))
async def delete_value(
    namespace: NamespacePath, key: KVKeyPath, services: ServicesDep, tenant: TenantDep
) -> Any:
    return bool(await services.store.delete_kv(tenant, namespace, [_key(key)]))
