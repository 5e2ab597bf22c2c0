"""KV store queries: sync functions of a SQLAlchemy ``Connection``, run on the writer or a reader.

Writes are an upsert (``ON CONFLICT DO UPDATE``, both dialects) that bumps ``revision``; with
``overwrite`` off a live entry makes the upsert a no-op and the caller a ``ConflictError``.
Imports SQLAlchemy, the schema and the domain; never the engine or the API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from lanner.domain.kv import KVEntry, KVType, KVValue
from lanner.errors import ConflictError
from lanner.store.sqlalchemy.schema import kv_entries

_KEY = (
    kv_entries.c.tenant_id == bindparam("k_tenant_id"),
    kv_entries.c.namespace == bindparam("k_namespace"),
)
_GET = select(kv_entries).where(*_KEY, kv_entries.c.key == bindparam("k_key"))
_LIST = (
    select(kv_entries)
    .where(
        *_KEY,
        or_(kv_entries.c.expires.is_(None), kv_entries.c.expires > bindparam("k_now")),
    )
    .order_by(kv_entries.c.key)
)


def _upsert(make_insert: Callable[[Any], Any]) -> Callable[[bool], Any]:
    def build(overwrite: bool) -> Any:
        stmt = make_insert(kv_entries)
        excluded = stmt.excluded
        changes = {
            "value_type": excluded.value_type,
            "value": excluded.value,
            "description": excluded.description,
            "expires": excluded.expires,
            "updated": excluded.updated,
            "revision": kv_entries.c.revision + 1,
        }
        where = None
        if not overwrite:
            # Only an expired entry may be replaced.
            where = and_(
                kv_entries.c.expires.is_not(None), kv_entries.c.expires <= excluded.updated
            )
        return stmt.on_conflict_do_update(
            index_elements=[kv_entries.c.tenant_id, kv_entries.c.namespace, kv_entries.c.key],
            set_=changes,
            where=where,
        ).returning(*kv_entries.c)

    return build


_UPSERT = {
    "sqlite": {o: _upsert(sqlite.insert)(o) for o in (True, False)},
    "postgresql": {o: _upsert(postgresql.insert)(o) for o in (True, False)},
}


def put_kv(
    conn: Connection,
    now: datetime,
    tenant_id: str,
    namespace: str,
    key: str,
    value: KVValue,
    *,
    ttl: timedelta | None = None,
    description: str | None = None,
    overwrite: bool = True,
) -> KVEntry:
    """Insert or replace the entry; see :meth:`KVStore.put_kv`."""
    row = conn.execute(
        _UPSERT[conn.dialect.name][overwrite],
        {
            "tenant_id": tenant_id,
            "namespace": namespace,
            "key": key,
            "value_type": value.type.value,
            "value": value.value,
            "description": description,
            "expires": now + ttl if ttl is not None else None,
            "created": now,
            "updated": now,
            "revision": 1,
        },
    ).first()
    if row is None:
        raise ConflictError(
            f"Illegal state: Cannot set value for key '{key}': it already exists in namespace "
            f"'{namespace}' and overwrite is false"
        )
    return _to_entry(row)


def get_kv(conn: Connection, tenant_id: str, namespace: str, key: str) -> KVEntry | None:
    row = conn.execute(
        _GET, {"k_tenant_id": tenant_id, "k_namespace": namespace, "k_key": key}
    ).first()
    return None if row is None else _to_entry(row)


def list_kv(conn: Connection, now: datetime, tenant_id: str, namespace: str) -> list[KVEntry]:
    rows = conn.execute(_LIST, {"k_tenant_id": tenant_id, "k_namespace": namespace, "k_now": now})
    return [_to_entry(row) for row in rows]


_EXPIRED = (
    select(kv_entries.c.key)
    .where(*_KEY, kv_entries.c.expires <= bindparam("k_now"))
    .order_by(kv_entries.c.key)
)


def expired_kv_keys(conn: Connection, now: datetime, tenant_id: str, namespace: str) -> list[str]:
    params = {"k_tenant_id": tenant_id, "k_namespace": namespace, "k_now": now}
    return list(conn.execute(_EXPIRED, params).scalars())


def delete_kv(conn: Connection, tenant_id: str, namespace: str, keys: Sequence[str]) -> list[str]:
    if not keys:
        return []
    stmt = (
        delete(kv_entries)
        .where(
            kv_entries.c.tenant_id == tenant_id,
            kv_entries.c.namespace == namespace,
            kv_entries.c.key.in_(list(keys)),
        )
        .returning(kv_entries.c.key)
    )
    deleted = {str(key) for key in conn.execute(stmt).scalars()}
    return [key for key in dict.fromkeys(keys) if key in deleted]


def _to_entry(row: Row[Any]) -> KVEntry:
    return KVEntry(
        tenant_id=row.tenant_id,
        namespace=row.namespace,
        key=row.key,
        type=KVType(row.value_type),
        value=row.value,
        created=row.created,
        updated=row.updated,
        revision=row.revision,
        expires=row.expires,
        description=row.description,
    )
