"""Built-in rate limiting: a token bucket per client identity and route group, as ASGI middleware.

OSS Kestra has none and sends people to a proxy; Lanner's users drive the API from scripts and
agents in loops, so the server protects itself. Off by default: :func:`install` then adds
nothing, and a request pays nothing. On (``LANNER_RATE_LIMIT=on`` or a spec, see
``lanner.config.parse_rate_limit``), each request takes a token from the bucket of its client
and group; an empty bucket answers 429 with ``Retry-After`` (whole seconds until a token is
back) and Kestra's error body naming the group and the setting.

- Identity: the bearer token (by a digest, never the secret), else the Basic user name, else the
  peer address. Checked before authentication, so guessing credentials is limited too.
- Groups: ``follow`` (GET of a ``.../follow`` stream), ``executions`` (any other method under
  ``/executions``: create, webhooks, restart, kill...), ``writes`` (other non-GET methods),
  ``reads`` (GET, HEAD). ``/health`` and ``/ping`` are never limited.

The clock is injectable (``RateLimiter.clock``) so tests refill buckets without sleeping. The
table of buckets is bounded: past ``MAX_BUCKETS`` the oldest half is dropped (a dropped bucket
comes back full, erring on the side of serving).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from lanner.api.problems import error_response
from lanner.config import RateLimits

MAX_BUCKETS = 50_000
UNLIMITED_PATHS = frozenset({"/health", "/ping"})
_EXECUTIONS_PATH = re.compile(r"^/api/v1/(?:[^/]+/)?executions(?:/|$)")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_identity(scope: Scope) -> str:
    """Who is asking: ``token:<digest>``, ``user:<name>`` or ``ip:<address>``."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            scheme = scheme.lower()
            credentials = credentials.strip()
            if scheme == b"bearer" and credentials:
                return "token:" + hashlib.sha256(credentials).hexdigest()[:32]
            if scheme == b"basic" and credentials:
                try:
                    user = base64.b64decode(credentials, validate=True).partition(b":")[0]
                    return "user:" + user.decode("utf-8", "replace")
                except (binascii.Error, ValueError):
                    pass
            break
    client = scope.get("client")
    return "ip:" + (str(client[0]) if client else "unknown")


def route_group(method: str, path: str) -> str:
    """The group a request counts against (module docstring)."""
    if method in _READ_METHODS:
        return "follow" if path.endswith("/follow") else "reads"
    if _EXECUTIONS_PATH.match(path):
        return "executions"
    return "writes"


@dataclass(slots=True)
class RateLimiter:
    """The buckets: ``(identity, group)`` → ``[tokens, last refill time]``."""

    limits: RateLimits
    clock: Callable[[], float] = time.monotonic
    buckets: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def take(self, identity: str, group: str) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is back."""
        capacity, period = self.limits.rates[group]
        rate = capacity / period
        now = self.clock()
        key = (identity, group)
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= MAX_BUCKETS:
                for old in list(self.buckets)[: MAX_BUCKETS // 2]:
                    del self.buckets[old]
            bucket = self.buckets[key] = [float(capacity), now]
        else:
            bucket[0] = min(float(capacity), bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / rate


class RateLimitMiddleware:
    """Answers 429 once a client's bucket for the request's group is empty."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        group = route_group(scope["method"], scope["path"])
        wait = self.limiter.take(client_identity(scope), group)
        if wait <= 0.0:
            await self.app(scope, receive, send)
            return
        capacity, period = self.limiter.limits.rates[group]
        message = (
            f"Too Many Requests: over {capacity} {group} requests per {period:g} s for this "
            "client (rate-limit)"
        )
        retry = str(max(1, math.ceil(wait)))
        response = error_response(Request(scope), 429, message, headers={"Retry-After": retry})
        await response(scope, receive, send)
