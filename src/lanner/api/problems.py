"""Errors → HTTP: one table from error class to status, and Kestra's error body.

Kestra (Micronaut) answers ``{"message", "_links": {"self": {...}}, "_embedded": {"errors": [...]}}``
where ``_embedded`` appears for validation errors. An unexpected exception is logged with its
traceback and answered 500 without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

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
    431: "Request Header Fields Too Large",
    422: "Invalid entity",
    500: "Internal server error",
    503: "Service Unavailable",
}


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


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    reason = REASONS.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else reason
    message = reason if detail == reason or not detail else f"{reason}: {detail}"
    return error_response(request, exc.status_code, message, headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error class through Kestra's error body."""
    app.add_exception_handler(LannerError, _on_lanner_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
