"""The store's contract for the namespace key-value store (``kv()``, ``kv.*`` tasks, the API).

Imports only the standard library and the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from lanner.domain.kv import KVEntry, KVValue


class KVStore(Protocol):
    """Typed values by ``(tenant, namespace, key)``; an entry may expire."""

    async def put_kv(
        self,
        tenant_id: str,
        namespace: str,
        key: str,
        value: KVValue,
        *,
        ttl: timedelta | None = None,
        description: str | None = None,
        overwrite: bool = True,
    ) -> KVEntry:
        """Store ``value`` (expiring ``ttl`` from now) and return the entry; its revision is
        one more than the replaced entry's. With ``overwrite`` False a live entry is kept and
        :class:`~lanner.errors.ConflictError` raised (an expired one is replaced)."""
        ...

    async def get_kv(self, tenant_id: str, namespace: str, key: str) -> KVEntry | None:
        """The entry, expired or not (callers decide: the API answers 410); None if absent."""
        ...

    async def list_kv(self, tenant_id: str, namespace: str) -> list[KVEntry]:
        """The namespace's live entries (expired ones hidden), by key."""
        ...

    async def expired_kv_keys(self, tenant_id: str, namespace: str) -> list[str]:
        """The keys of the namespace's expired entries (not purged yet), in order."""
        ...

    async def delete_kv(self, tenant_id: str, namespace: str, keys: Sequence[str]) -> list[str]:
        """Delete ``keys``; returns those that existed (expired ones included), in order."""
        ...
