"""The HTTP client of the command-line tools: connection settings and server-sent events.

Settings come from the environment (``KESTRA_URL``, ``KESTRA_USER`` + ``KESTRA_PASSWORD`` or
``KESTRA_TOKEN``, ``KESTRA_TENANT``) or, for what the environment leaves unset, a YAML file
(``KESTRA_CONFIG``, by default ``$XDG_CONFIG_HOME/kestra/config.nuon``, the file of
``tools/kestra.nu``: a JSON, YAML or comma-separated NUON record of ``url``, ``user``,
``password``, ``token``, ``tenant``), never from argv, so credentials stay out of process
listings and shell history. This module must not import the server side (``api``, ``engine``,
``store``).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from httpx_sse import ServerSentEvent, SSEError, aconnect_sse

DEFAULT_URL = "http://localhost:8080"
CONFIG_KEYS = {"url": "KESTRA_URL", "user": "KESTRA_USER", "password": "KESTRA_PASSWORD",
               "token": "KESTRA_TOKEN", "tenant": "KESTRA_TENANT"}  # fmt: skip
API_PREFIX = "/api/v1/"
CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0


class ClientError(Exception):
    """A request the server refused or could not answer (HTTP error or transport failure)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        details: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details
        """``(path, message)`` of each problem a validation error (422) named."""


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Where the server is and how to authenticate to it."""

    url: str = DEFAULT_URL
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    tenant: str | None = None
    """Sends ``/api/v1/...`` requests to ``/api/v1/{tenant}/...`` (Kestra's tenant paths)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        env = os.environ if environ is None else environ
        env = {**_config_file_values(env), **{k: v for k, v in env.items() if v}}
        return cls(
            url=(env.get("KESTRA_URL") or DEFAULT_URL).rstrip("/"),
            user=env.get("KESTRA_USER") or None,
            password=env.get("KESTRA_PASSWORD") or None,
            token=env.get("KESTRA_TOKEN") or None,
            tenant=env.get("KESTRA_TENANT") or None,
        )

    def auth(self) -> httpx.Auth | None:
        if self.user is not None and self.password is not None:
            return httpx.BasicAuth(self.user, self.password)
        return None

    def headers(self) -> dict[str, str]:
        if self.token is not None and self.user is None:
            return {"Authorization": f"Bearer {self.token}"}
        return {}


def _config_file_values(env: Mapping[str, str]) -> dict[str, str]:
    """The config file's values under their environment names; {} when there is no file."""
    named = env.get("KESTRA_CONFIG")
    base = env.get("XDG_CONFIG_HOME") or "~/.config"
    path = Path(named or f"{base}/kestra/config.nuon").expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        if named:
            raise ClientError(f"config file {path} does not exist") from None
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise ClientError(f"cannot read config file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ClientError(f"config file {path} must hold a mapping of {', '.join(CONFIG_KEYS)}")
    return {CONFIG_KEYS[k]: str(v) for k, v in data.items() if k in CONFIG_KEYS and v is not None}


def open_client(settings: ClientSettings) -> httpx.AsyncClient:
    """An async client bound to the server; streaming reads have no read timeout."""
    hooks = {"request": [_tenant_hook(settings.tenant)]} if settings.tenant else {}
    return httpx.AsyncClient(
        base_url=settings.url,
        auth=settings.auth(),
        headers=settings.headers(),
        timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        event_hooks=hooks,
    )


def _tenant_hook(tenant: str) -> Callable[[httpx.Request], Awaitable[None]]:
    async def with_tenant(request: httpx.Request) -> None:
        path = request.url.path
        if path.startswith(API_PREFIX):
            request.url = request.url.copy_with(
                path=f"{API_PREFIX}{tenant}/{path[len(API_PREFIX) :]}"
            )

    return with_tenant


def _error_of(response: httpx.Response) -> ClientError:
    detail = ""
    details: list[tuple[str, str]] = []
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("message") or "")
            errors = (body.get("_embedded") or {}).get("errors") or []
            details = [
                (str(e.get("path", "")), str(e.get("message", "")))
                for e in errors
                if isinstance(e, dict)
            ]
    except ValueError:
        detail = response.text[:200]
    reason = f"HTTP {response.status_code} {response.request.method} {response.request.url.path}"
    return ClientError(
        f"{reason}: {detail}" if detail else reason,
        status=response.status_code,
        details=tuple(details),
    )


async def send(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request (``kwargs`` as ``httpx.AsyncClient.request`` takes them); a ``ClientError``
    for a transport failure or an error status, with the server's message."""
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ClientError(f"cannot reach {client.base_url}: {exc}") from exc
    if response.status_code >= 400:
        raise _error_of(response)
    return response


async def call_json(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """``send`` and the JSON body of the answer (None when it has none)."""
    response = await send(client, method, path, **kwargs)
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


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
    client: httpx.AsyncClient,
    path: str,
    headers: Mapping[str, str] | None = None,
    *,
    params: Mapping[str, str] | None = None,
) -> AsyncGenerator[tuple[str | None, Any], None]:
    """``(id, data)`` of each server-sent event of ``path`` until the server closes."""
    async for event in follow_sse(client, path, headers, params=params):
        yield event.id or None, _decode(event.data)


async def follow_sse(
    client: httpx.AsyncClient,
    path: str,
    headers: Mapping[str, str] | None = None,
    *,
    params: Mapping[str, str] | None = None,
) -> AsyncGenerator[ServerSentEvent, None]:
    """Each server-sent event of ``path`` (``event``, ``data``, ``id``, ``retry`` parsed as the
    SSE specification says) until the server closes; a ``ClientError`` for any failure."""
    try:
        async with aconnect_sse(
            client,
            "GET",
            path,
            headers=dict(headers or {}),
            params=dict(params or {}),
            timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT_S),
        ) as source:
            if source.response.status_code >= 400:
                await source.response.aread()
                raise _error_of(source.response)
            async for event in source.aiter_sse():
                yield event
    except (httpx.HTTPError, SSEError) as exc:
        raise ClientError(f"stream {path} failed: {exc}") from exc


def _decode(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
