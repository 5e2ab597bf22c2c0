"""The one error tree of Lanner.

Every error the project raises on purpose derives from :class:`LannerError`. The API maps each class
to an HTTP status and Kestra's error body in one table (``lanner.api.problems``); nothing else
decides statuses. This module imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One problem, located: ``path`` is a dotted/indexed path (``tasks[0].id``) or a field name."""

    path: str
    message: str


class LannerError(Exception):
    """Base of every error Lanner raises on purpose."""

    def __init__(self, message: str, details: Sequence[ErrorDetail] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details: tuple[ErrorDetail, ...] = tuple(details)


class NotFoundError(LannerError):
    """The resource does not exist (HTTP 404)."""


class ConflictError(LannerError):
    """The resource is in a state that forbids the request (HTTP 409, Kestra's "Illegal state")."""


class ValidationError(LannerError):
    """The request or document is invalid (HTTP 422); ``details`` names every offending path."""


class InvalidFlowError(ValidationError):
    """A flow source failed parsing or validation."""


class IllegalArgumentError(ValidationError):
    """A request argument is invalid (HTTP 422, Kestra's "Illegal argument")."""


class BadRequestError(LannerError):
    """The request is malformed, e.g. a required query parameter is missing (HTTP 400)."""


class UnauthorizedError(LannerError):
    """Missing or wrong credentials (HTTP 401)."""


class GoneError(LannerError):
    """The resource existed but has expired (HTTP 410)."""


class NotLeaderError(LannerError):
    """A write fenced by a leadership this process no longer holds (another executor leads)."""


class StoreUnavailableError(LannerError):
    """The database cannot be reached (HTTP 503)."""


class PayloadTooLargeError(LannerError):
    """The request body (or one of its parts) is over its configured limit (HTTP 413)."""


class DeadlineExceededError(LannerError):
    """Bounded work (parsing a flow) did not finish within its deadline (HTTP 503)."""


class ConcurrentUpdateError(ConflictError):
    """A compare-and-set write lost a race; the caller may re-read and retry."""


class ConfigError(LannerError):
    """Bad settings; the server refuses to start with this one-line message."""
