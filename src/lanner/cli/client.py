"""The HTTP client of the command-line tools: connection settings and server-sent events.

Settings come from the environment only (``KESTRA_URL``, ``KESTRA_USER`` + ``KESTRA_PASSWORD``
or ``KESTRA_TOKEN``), never from argv, so credentials stay out of process listings and shell
history. This module must not import the server side (``api``, ``engine``, ``store``).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_URL = "http://localhost:8080"
CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0


class ClientError(Exception):
    """A request the server refused or could not answer (HTTP error or transport failure)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Where the server is and how to authenticate to it."""

    url: str = DEFAULT_URL
    user: str | None = None
    password: str | None = None
    token: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        env = os.environ if environ is None else environ
        return cls(
            url=(env.get("KESTRA_URL") or DEFAULT_URL).rstrip("/"),
            user=env.get("KESTRA_USER") or None,
            password=env.get("KESTRA_PASSWORD") or None,
            token=env.get("KESTRA_TOKEN") or None,
        )

    def auth(self) -> httpx.Auth | None:
        if self.user is not None and self.password is not None:
            return httpx.BasicAuth(self.user, self.password)
        return None

    def headers(self) -> dict[str, str]:
        if self.token is not None and self.user is None:
            return {"Authorization": f"Bearer {self.token}"}
        return {}


def open_client(settings: ClientSettings) -> httpx.AsyncClient:
    """An async client bound to the server; streaming reads have no read timeout."""
    return httpx.AsyncClient(
        base_url=settings.url,
        auth=settings.auth(),
        headers=settings.headers(),
        timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
    )


def _error_of(response: httpx.Response) -> ClientError:
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("message") or "")
    except ValueError:
        detail = response.text[:200]
    reason = f"HTTP {response.status_code} {response.request.method} {response.request.url.path}"
    return ClientError(f"{reason}: {detail}" if detail else reason, status=response.status_code)


async def get_json(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    """``GET path`` and its JSON body; a ``ClientError`` for any failure."""
    try:
        response = await client.get(path, params=params or None)
    except httpx.HTTPError as exc:
        raise ClientError(f"cannot reach {client.base_url}: {exc}") from exc
    if response.status_code >= 400:
        raise _error_of(response)
    return response.json()


async def follow_events(
    client: httpx.AsyncClient, path: str, headers: Mapping[str, str] | None = None
) -> AsyncGenerator[tuple[str | None, Any], None]:
    """``(id, data)`` of each server-sent event of ``path`` until the server closes."""
    try:
        async with client.stream(
            "GET", path, headers=headers, timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT_S)
        ) as resp:
            if resp.status_code >= 400:
                await resp.aread()
                raise _error_of(resp)
            event_id: str | None = None
            data: list[str] = []
            async for line in resp.aiter_lines():
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif not line and (event_id is not None or data):
                    yield event_id, _decode("\n".join(data))
                    event_id, data = None, []
            if event_id is not None or data:
                yield event_id, _decode("\n".join(data))
    except httpx.HTTPError as exc:
        raise ClientError(f"stream {path} failed: {exc}") from exc


def _decode(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
