"""The store's contract for API tokens (bearer auth): only a secret's digest is stored.

Imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token as stored: only the SHA-256 hex digest of the secret is kept."""

    id: str
    name: str
    token_hash: str
    created: datetime
    expires: datetime | None = None
    revoked: bool = False


class TokenStore(Protocol):
    """API tokens (bearer auth)."""

    async def add_token(self, token: ApiToken) -> ApiToken:
        """Store a new token; a duplicate name raises :class:`lanner.errors.ConflictError`."""
        ...

    async def list_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones included, oldest first."""
        ...

    async def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with this hash, whatever its state (callers check expiry/revocation)."""
        ...

    async def revoke_token(self, name: str) -> bool:
        """Mark the token named ``name`` revoked; False when no such token exists."""
        ...

    async def count_active_tokens(self, now: datetime) -> int:
        """How many tokens are neither revoked nor expired at ``now``."""
        ...
