"""Request limits at the edge: header size, body size by kind, form parts and fields.

:class:`RequestLimitMiddleware` is a pure ASGI middleware, outermost, that never buffers: a
``Content-Length`` over the limit is refused before a byte of the body is read, and a streamed
(chunked) body is counted as the application reads it and refused as soon as it crosses the
limit. Both answer 413 with Kestra's error body naming the setting; headers over
``max-header-bytes`` answer 431. The limit depends on what the body is:

- flow endpoints (``/api/v1[/{tenant}]/flows...``) and YAML bodies: ``max-flow-body-bytes``;
- JSON and urlencoded bodies, and any webhook body (read whole): ``max-json-body-bytes``;
- multipart bodies and anything else (raw namespace-file uploads): ``max-upload-bytes``.

:func:`read_form` reads a form with ``max-form-part-bytes`` per text part and ``max-form-fields``
parts, refusing more with 413. Imports the settings, the errors and ``lanner.api.problems``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lanner.api.problems import error_response
from lanner.config import Settings
from lanner.errors import PayloadTooLargeError

_FLOW_PATH = re.compile(r"^/api/v1/(?:[^/]+/)?flows(?:/|$)")
_WEBHOOK_PATH = re.compile(r"^/api/v1/(?:[^/]+/)?executions/webhook/")
_YAML_TYPES = frozenset({"application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml"})
_JSON_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The most bytes a body may have, and the setting that says so."""

    max_bytes: int
    setting: str


def body_limit(settings: Settings, path: str, content_type: str) -> BodyLimit:
    """Which limit a request body is held to (see the module docstring)."""
    kind = content_type.split(";")[0].strip().lower()
    if _FLOW_PATH.match(path) or kind in _YAML_TYPES:
        return BodyLimit(settings.max_flow_body_bytes, "max-flow-body-bytes")
    if kind in _JSON_TYPES or kind.endswith("+json") or _WEBHOOK_PATH.match(path):
        return BodyLimit(settings.max_json_body_bytes, "max-json-body-bytes")
    return BodyLimit(settings.max_upload_bytes, "max-upload-bytes")


def too_large(limit: BodyLimit) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"Payload Too Large: the request body is over {limit.max_bytes} bytes ({limit.setting})"
    )


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


class RequestLimitMiddleware:
    """Refuses oversized headers (431) and bodies (413) without buffering them."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if header_bytes > self.settings.max_header_bytes:
            message = (
                "Request Header Fields Too Large: the headers are over "
                f"{self.settings.max_header_bytes} bytes (max-header-bytes)"
            )
            await _answer(scope, receive, send, 431, message)
            return
        limit = body_limit(self.settings, scope["path"], _header(scope, b"content-type"))
        declared = _header(scope, b"content-length").strip()
        if declared.isdigit() and int(declared) > limit.max_bytes:
            await _answer(scope, receive, send, 413, too_large(limit).message)
            return
        await _Limited(self.app, limit)(scope, receive, send)


class _Limited:
    """One request: counts body bytes as they are received; past the limit, the app's answer
    (whatever it made of the error) is replaced by the 413."""

    def __init__(self, app: ASGIApp, limit: BodyLimit) -> None:
        self.app = app
        self.limit = limit
        self.received = 0
        self.is_over = False
        self.is_started = False
        self.is_replaced = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def limited_receive() -> Message:
            if self.is_over:  # the app asks again after the refusal: nothing more is read
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit.max_bytes:
                    self.is_over = True
                    raise too_large(self.limit)
            return message

        async def guarded_send(message: Message) -> None:
            if self.is_replaced:
                return
            if message["type"] == "http.response.start":
                if self.is_over:
                    self.is_replaced = True
                    await _answer(scope, receive, send, 413, too_large(self.limit).message)
                    return
                self.is_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except PayloadTooLargeError:
            if self.is_started or self.is_replaced:
                raise
            self.is_replaced = True
            await _answer(scope, receive, send, 413, too_large(self.limit).message)


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    response = error_response(Request(scope), status, message, headers={"Connection": "close"})
    await response(scope, receive, send)


async def read_form(
    request: Request, settings: Settings, *, max_files: int, max_fields: int
) -> FormData:
    """``request.form()`` within ``max-form-part-bytes`` per text part and at most
    ``max-form-fields`` (and the route's own counts) parts; 413 past them."""
    try:
        return await request.form(
            max_files=min(max_files, settings.max_form_fields),
            max_fields=min(max_fields, settings.max_form_fields),
            max_part_size=settings.max_form_part_bytes,
        )
    except HTTPException as exc:
        detail = str(exc.detail)
        if "exceeded maximum size" in detail:
            raise PayloadTooLargeError(
                f"Payload Too Large: a form part is over {settings.max_form_part_bytes} bytes "
                "(max-form-part-bytes)"
            ) from None
        if detail.startswith("Too many"):
            raise PayloadTooLargeError(
                f"Payload Too Large: {detail.rstrip('.')} (max-form-fields)"
            ) from None
        raise
