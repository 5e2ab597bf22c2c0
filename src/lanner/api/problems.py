"""Errors → HTTP: one table from error class to status, and Kestra's error body.

Kestra (Micronaut) answers ``{"message", "_links": {"self": {...}}, "_embedded": {"errors": [...]}}``
where ``_embedded`` appears for validation errors. An unexpected exception is logged with its
traceback and answered 500 without internals.

The same body is documented once, as the ``JsonError`` schema (:class:`ErrorBody`), and
:func:`document_errors` gives every operation of the document the error statuses it can answer
(401 behind auth, 400 and 422 for its parameters, 404 for the ids in its path, 413 for a body,
503 when the store is down), beside the ones a route names itself with :func:`error_responses`.
A 405 names in ``Allow`` every method the path has, across routers.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from lanner.api.auth import is_open_path
from lanner.api.wire import JsonResponse
from lanner.errors import (
    BadRequestError,
    ConflictError,
    DeadlineExceededError,
    ErrorDetail,
    GoneError,
    IllegalArgumentError,
    InvalidFlowError,
    LannerError,
    NotFoundError,
    PayloadTooLargeError,
    StoreUnavailableError,
    UnauthorizedError,
    ValidationError,
)

log = logging.getLogger(__name__)

# Most specific class first: the first match wins.
STATUS_BY_ERROR: tuple[tuple[type[LannerError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidFlowError, 422),
    (IllegalArgumentError, 422),
    (ValidationError, 422),
    (BadRequestError, 400),
    (UnauthorizedError, 401),
    (GoneError, 410),
    (PayloadTooLargeError, 413),
    (StoreUnavailableError, 503),
    (DeadlineExceededError, 503),
)

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Illegal state",
    410: "Resource has expired",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    422: "Invalid entity",
    500: "Internal server error",
    503: "Service Unavailable",
}


ERROR_SCHEMA = "JsonError"
_ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 1},
}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ErrorLink(BaseModel):
    href: str
    templated: bool


class ErrorLinks(BaseModel):
    self_: ErrorLink = Field(alias="self")


class ErrorItem(BaseModel):
    message: str
    path: str


class ErrorEmbedded(BaseModel):
    errors: list[ErrorItem]


class ErrorBody(BaseModel):
    """Kestra's (Micronaut's) error body; ``_embedded`` only for validation errors."""

    model_config = ConfigDict(title=ERROR_SCHEMA)

    message: str
    links: ErrorLinks = Field(alias="_links")
    embedded: ErrorEmbedded | None = Field(default=None, alias="_embedded")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries answering Kestra's error body with each of ``statuses``."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": REASONS.get(status, "Error"),
            "content": {"application/json": {"schema": dict(_ERROR_REF)}},
        }
        if status == 429:
            response["headers"] = {"Retry-After": _RETRY_AFTER}
        responses[status] = response
    return responses


def _statuses_of(
    path: str, method: str, operation: Mapping[str, Any], *, is_rate_limited: bool = False
) -> list[int]:
    """The error statuses an operation can answer whatever its handler does (429: past a rate
    limit when those are on, or past the follow streams a client may hold open)."""
    places = {param.get("in") for param in operation.get("parameters", ())}
    in_path = "path" in places
    in_query = bool(places & {"query", "header", "cookie"})
    has_body = method.upper() in _BODY_METHODS
    statuses: list[int] = []
    if not is_open_path(path):
        statuses.append(401)
    if in_query:
        statuses.append(400)
    if in_path:
        statuses.append(404)
    if has_body:
        statuses.append(413)
    if in_path or in_query or has_body:
        statuses.append(422)
    if (is_rate_limited and path not in ("/health", "/ping")) or path.endswith("/follow"):
        statuses.append(429)
    if not is_open_path(path):
        statuses.append(503)
    return statuses


def _with_errors(document: dict[str, Any], *, is_rate_limited: bool = False) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas[ERROR_SCHEMA] = body
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            validation = responses.get("422", {}).get("content", {}).get("application/json", {})
            if "HTTPValidationError" in str(validation.get("schema", "")):
                del responses["422"]  # FastAPI's own shape; Lanner answers Kestra's
            statuses = _statuses_of(path, method, operation, is_rate_limited=is_rate_limited)
            for status, response in error_responses(*statuses).items():
                responses.setdefault(str(status), response)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def document_errors(app: FastAPI, *, is_rate_limited: bool = False) -> None:
    """Give every operation of ``app``'s document its error statuses and ``JsonError``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_errors(build(), is_rate_limited=is_rate_limited)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def status_of(error: LannerError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 500


def error_body(
    request: Request, message: str, details: tuple[ErrorDetail, ...] | list[ErrorDetail] = ()
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message": message,
        "_links": {"self": {"href": str(request.url.path), "templated": False}},
    }
    if details:
        body["_embedded"] = {"errors": [{"message": d.message, "path": d.path} for d in details]}
    return body


def error_response(
    request: Request,
    status: int,
    message: str,
    details: tuple[ErrorDetail, ...] | list[ErrorDetail] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    return JsonResponse(error_body(request, message, details), status_code=status, headers=headers)


# Kestra's message prefixes; a message that already carries one is sent as it is.
KNOWN_PREFIXES = (
    "Invalid",
    "Illegal argument",
    "Illegal state",
    "Not Found",
    "Bad Request",
    "Unauthorized",
    "Resource has expired",
    "Payload Too Large",
    "Service Unavailable",
    "Too Many Requests",
)


def _message(error: LannerError, status: int) -> str:
    if error.message.startswith(KNOWN_PREFIXES):
        return error.message
    reason = (
        "Illegal argument"
        if isinstance(error, IllegalArgumentError)
        else REASONS.get(status, "Error")
    )
    return f"{reason}: {error.message}" if error.message else reason


async def _on_lanner_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LannerError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": 'Basic realm="Lanner"'} if status == 401 else None
    return error_response(request, status, _message(exc, status), exc.details, headers)


_BAD_REQUEST_TYPES = ("missing", "parsing", "_type", "json_invalid")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts)


async def _on_request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details: list[ErrorDetail] = []
    is_bad_request = False
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        kind = str(err.get("type", ""))
        where = loc[0] if loc else ""
        name = _location(loc)
        if where in ("query", "path", "header") and any(t in kind for t in _BAD_REQUEST_TYPES):
            is_bad_request = True
            if kind == "missing":
                details.append(ErrorDetail(name, f"Required argument [{name}] not specified"))
            else:
                details.append(ErrorDetail(name, f"Failed to convert argument [{name}]"))
        else:
            details.append(ErrorDetail(name, str(err.get("msg", "invalid"))))
    if is_bad_request:
        text = "; ".join(d.message for d in details)
        return error_response(request, 400, f"Bad Request: {text}", details)
    text = ", ".join(f"{d.path}: {d.message}" for d in details)
    return error_response(request, 422, f"Invalid entity: {text}", details)


@functools.lru_cache(maxsize=512)
def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))


def _allowed_methods(request: Request, fallback: str | None) -> str | None:
    """The methods the document gives this path (the most specific template that matches it).

    One route only knows its own methods; a path such as ``/api/v1/executions/{id}`` is served
    by several routers. Tenant-prefixed paths are looked up without their tenant segment.
    """
    paths: dict[str, Any] = request.app.openapi().get("paths", {})
    path = request.scope["path"]
    parts = path.split("/")
    candidates = [path]
    if len(parts) > 4 and parts[1:3] == ["api", "v1"]:
        candidates.append("/".join(parts[:3] + parts[4:]))
    for candidate in candidates:
        found = [(t.count("{"), t) for t in paths if _template_regex(t).fullmatch(candidate)]
        if found:
            template = min(found)[1]
            return ", ".join(sorted(method.upper() for method in paths[template]))
    return fallback


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    reason = REASONS.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else reason
    message = reason if detail == reason or not detail else f"{reason}: {detail}"
    headers = dict(exc.headers or {})
    allowed = _allowed_methods(request, headers.get("Allow")) if exc.status_code == 405 else None
    if allowed:
        headers["Allow"] = allowed
    return error_response(request, exc.status_code, message, headers=headers or None)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error class through Kestra's error body."""
    app.add_exception_handler(LannerError, _on_lanner_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
