"""API token queries: sync functions of a SQLAlchemy ``Connection``.

Tokens belong to the default tenant for now (the protocol has no tenant argument); only the
SHA-256 digest of a secret is stored. Imports SQLAlchemy, the schema and the store protocols.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from lanner.errors import ConflictError
from lanner.store.protocols.pages import DEFAULT_TENANT
from lanner.store.protocols.tokens import ApiToken
from lanner.store.sqlalchemy.schema import api_tokens

_INSERT = insert(api_tokens)
_LIST = (
    select(api_tokens)
    .where(api_tokens.c.tenant_id == bindparam("k_tenant_id"))
    .order_by(api_tokens.c.created, api_tokens.c.id)
)
_FIND = select(api_tokens).where(api_tokens.c.token_hash == bindparam("k_token_hash"))
_REVOKE = (
    update(api_tokens)
    .where(
        api_tokens.c.tenant_id == bindparam("k_tenant_id"),
        api_tokens.c.name == bindparam("k_name"),
    )
    .values(revoked=true())
)
_COUNT_ACTIVE = (
    select(func.count())
    .select_from(api_tokens)
    .where(
        api_tokens.c.tenant_id == bindparam("k_tenant_id"),
        api_tokens.c.revoked.is_(False),
        or_(api_tokens.c.expires.is_(None), api_tokens.c.expires > bindparam("k_now")),
    )
)


def add_token(conn: Connection, token: ApiToken) -> ApiToken:
    """Insert ``token``; :class:`ConflictError` when its name (or hash) is taken."""
    try:
        conn.execute(
            _INSERT,
            {
                "tenant_id": DEFAULT_TENANT,
                "id": token.id,
                "name": token.name,
                "token_hash": token.token_hash,
                "created": token.created,
                "expires": token.expires,
                "revoked": token.revoked,
            },
        )
    except IntegrityError:
        raise ConflictError(f"an API token named {token.name!r} already exists") from None
    return token


def list_tokens(conn: Connection) -> list[ApiToken]:
    """Every token of the tenant, oldest first."""
    return [_to_token(row) for row in conn.execute(_LIST, {"k_tenant_id": DEFAULT_TENANT})]


def find_token(conn: Connection, token_hash: str) -> ApiToken | None:
    """The token whose secret hashes to ``token_hash``."""
    row = conn.execute(_FIND, {"k_token_hash": token_hash}).first()
    return None if row is None else _to_token(row)


def revoke_token(conn: Connection, name: str) -> bool:
    """Mark the named token revoked; False when there is none."""
    result = conn.execute(_REVOKE, {"k_tenant_id": DEFAULT_TENANT, "k_name": name})
    return result.rowcount > 0


def count_active_tokens(conn: Connection, now: datetime) -> int:
    """Tokens neither revoked nor expired at ``now``."""
    count: int = conn.execute(
        _COUNT_ACTIVE, {"k_tenant_id": DEFAULT_TENANT, "k_now": now}
    ).scalar_one()
    return count


def _to_token(row: Row[Any]) -> ApiToken:
    return ApiToken(
        id=row.id,
        name=row.name,
        token_hash=row.token_hash,
        created=row.created,
        expires=row.expires,
        revoked=row.revoked,
    )
