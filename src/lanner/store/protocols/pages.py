"""What every aggregate's searches share: one :class:`Page` of results, the default tenant.

Imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

DEFAULT_TENANT = "main"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results and the total count over all pages."""

    results: list[T]
    total: int
