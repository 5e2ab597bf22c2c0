"""Authentication: HTTP Basic (settings) and bearer API tokens (store), as an ASGI middleware.

Auth is on when basic credentials are configured or at least one active API token exists. Open
without credentials: health, ping, the interactive API docs and every webhook path (and
``/metrics`` with ``LANNER_METRICS=open``). Tokens are
looked up by the SHA-256 of the presented secret; a positive look-up is cached for
``TOKEN_CACHE_TTL_S`` so a revoked token stops working within that delay.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lanner.api.wire import dumps
from lanner.config import Settings
from lanner.store import TokenStore

TOKEN_PREFIX = "lnr_"
TOKEN_CACHE_TTL_S = 5.0
ACTIVE_COUNT_TTL_S = 2.0
BASIC_CACHE_SIZE = 64
"""Distinct good Basic credentials remembered (settings never change while serving)."""

METRICS_PATH = "/metrics"
OPEN_PATHS = frozenset({"/health", "/ping", "/api", "/api/", "/api/openapi.json"})
WEBHOOK_PATH = re.compile(r"^/api/v1/(?:[a-z0-9][a-z0-9_-]*/)?executions/webhook/")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_token_secret() -> str:
    """A fresh API token secret, shown once to its creator."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def is_open_path(path: str) -> bool:
    return path in OPEN_PATHS or WEBHOOK_PATH.match(path) is not None


@dataclass(slots=True)
class Authenticator:
    """Decides whether a request's ``Authorization`` header is good enough."""

    settings: Settings
    tokens: TokenStore
    _token_cache: dict[str, float] = field(default_factory=dict)
    _good_basic: set[str] = field(default_factory=set)
    _active_count: tuple[float, int] = (0.0, 0)

    async def is_enabled(self) -> bool:
        if self.settings.is_basic_auth_enabled:
            return True
        checked_at, count = self._active_count
        now = time.monotonic()
        if now - checked_at > ACTIVE_COUNT_TTL_S:
            count = await self.tokens.count_active_tokens(datetime.now(UTC))
            self._active_count = (now, count)
        return count > 0

    def _check_basic(self, encoded: str) -> bool:
        if not self.settings.is_basic_auth_enabled:
            return False
        if encoded in self._good_basic:  # checked in constant time once already
            return True
        if not self._is_basic_match(encoded):
            return False
        if len(self._good_basic) >= BASIC_CACHE_SIZE:
            self._good_basic.clear()
        self._good_basic.add(encoded)
        return True

    def _is_basic_match(self, encoded: str) -> bool:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        expected_user = (self.settings.basic_auth_username or "").encode()
        expected_password = (self.settings.basic_auth_password or "").encode()
        user_ok = hmac.compare_digest(user.encode(), expected_user)
        password_ok = hmac.compare_digest(password.encode(), expected_password)
        return user_ok and password_ok

    async def _check_bearer(self, secret: str) -> bool:
        digest = hash_token(secret)
        now = time.monotonic()
        cached_until = self._token_cache.get(digest)
        if cached_until is not None and cached_until > now:
            return True
        token = await self.tokens.find_token(digest)
        if token is None or token.revoked:
            return False
        if token.expires is not None and token.expires <= datetime.now(UTC):
            return False
        if len(self._token_cache) > 10_000:
            self._token_cache.clear()
        self._token_cache[digest] = now + TOKEN_CACHE_TTL_S
        return True

    async def is_authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "basic":
            return self._check_basic(credentials)
        if scheme == "bearer":
            return await self._check_bearer(credentials)
        return False


class AuthMiddleware:
    """Answers 401 (Kestra's body, ``WWW-Authenticate: Basic``) to unauthenticated requests."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator
        # ``LANNER_METRICS=open``: Prometheus scrapes ``/metrics`` without credentials.
        self.open_metrics = authenticator.settings.metrics == "open"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or is_open_path(scope["path"])
            or (self.open_metrics and scope["path"] == METRICS_PATH)
        ):
            await self.app(scope, receive, send)
            return
        if not await self.authenticator.is_enabled():
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        if await self.authenticator.is_authorized(header):
            await self.app(scope, receive, send)
            return
        body = dumps(
            {
                "message": "Unauthorized",
                "_links": {"self": {"href": scope["path"], "templated": False}},
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Basic realm="Lanner"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


SECURITY_SCHEMES = {
    "basicAuth": {"type": "http", "scheme": "basic"},
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "an API token (lnr_...)"},
}


def document_auth(app: Any) -> None:
    """Name Basic and bearer auth in ``app``'s document; the open paths need neither.

    Auth applies once credentials or a token exist (see the module doc); the document says what
    a secured server asks for.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document: dict[str, Any] = build()
        if "securitySchemes" not in document.get("components", {}):
            document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            document["security"] = [{"basicAuth": []}, {"bearerAuth": []}]
            for path, operations in document.get("paths", {}).items():
                if is_open_path(path):
                    for operation in operations.values():
                        operation["security"] = []
        return document

    app.openapi = openapi
