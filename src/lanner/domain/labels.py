"""Execution and flow labels: ``{key, value}`` pairs, normalized from YAML's map or list form.

Imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SYSTEM_PREFIX = "system."
# The only system label a flow may carry itself (Kestra's ``Label.READ_ONLY``).
FLOW_ALLOWED_SYSTEM_LABELS = frozenset({"system.readOnly"})


@dataclass(frozen=True, slots=True)
class Label:
    """One label; JSON is always ``{"key": ..., "value": ...}``."""

    key: str
    value: str

    @property
    def is_system(self) -> bool:
        return self.key.startswith(SYSTEM_PREFIX)

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value}


def label_text(value: Any) -> str:
    """A label value as text, the way Jackson writes a scalar (``true``, ``3``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def labels_from_map(mapping: Mapping[str, Any]) -> tuple[Label, ...]:
    """Labels from the ``key: value`` map form."""
    return tuple(Label(str(k), label_text(v)) for k, v in mapping.items())


def labels_from_pairs(pairs: Iterable[tuple[str, Any]]) -> tuple[Label, ...]:
    """Labels from ``(key, value)`` pairs (the list form once its items are read)."""
    return tuple(Label(str(k), label_text(v)) for k, v in pairs)
