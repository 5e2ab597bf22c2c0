"""Administration through the store directly, with the server's settings (``lanner admin``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from lanner.api.auth import hash_token, new_token_secret
from lanner.bootstrap import start_store
from lanner.config import Settings
from lanner.domain.logs import LogLevel
from lanner.errors import ConfigError
from lanner.store import ApiToken, ClusterNode


async def create_token(settings: Settings, name: str, lifetime: timedelta | None) -> str:
    """Store a new token named ``name``; returns the secret, which is not stored."""
    secret = new_token_secret()
    now = datetime.now(UTC)
    store = await start_store(settings)
    try:
        await store.add_token(
            ApiToken(
                id=uuid.uuid4().hex,
                name=name,
                token_hash=hash_token(secret),
                created=now,
                expires=now + lifetime if lifetime is not None else None,
            )
        )
    finally:
        await store.close()
    return secret


async def list_tokens(settings: Settings) -> list[ApiToken]:
    store = await start_store(settings)
    try:
        return await store.list_tokens()
    finally:
        await store.close()


async def revoke_token(settings: Settings, name: str) -> bool:
    store = await start_store(settings)
    try:
        return await store.revoke_token(name)
    finally:
        await store.close()


async def migrate(settings: Settings) -> None:
    store = await start_store(settings)
    await store.close()


async def purge_logs(
    settings: Settings,
    older_than: timedelta,
    *,
    namespace: str | None = None,
    flow_id: str | None = None,
    levels: tuple[LogLevel, ...] = (),
) -> int:
    """Delete log lines older than ``older_than`` (of a namespace, flow, levels); how many."""
    store = await start_store(settings)
    try:
        return await store.purge_logs(
            datetime.now(UTC) - older_than, namespace=namespace, flow_id=flow_id, levels=levels
        )
    finally:
        await store.close()


async def cluster_status(settings: Settings) -> tuple[list[ClusterNode], dict[str, int]]:
    """The nodes attached to the database and the jobs by status (``lanner cluster status``)."""
    if not settings.effective_database_url.startswith(("postgresql", "postgres:")):
        raise ConfigError(
            "`lanner cluster status` needs PostgreSQL: set "
            "LANNER_DATABASE_URL=postgresql://user@host:5432/db (the cluster's database)"
        )
    store = await start_store(settings)
    try:
        return await store.cluster_nodes(), await store.job_counts()
    finally:
        await store.close()
