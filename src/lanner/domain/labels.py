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
# Set by Kestra on a restarted (or state-changed) execution, and on a replay's new execution.
RESTARTED_LABEL = "system.restarted"
REPLAY_LABEL = "system.replay"


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


def with_label(labels: tuple[Label, ...], key: str, value: str = "true") -> tuple[Label, ...]:
    """``labels`` with ``key`` set to ``value`` (replaced in place, else appended)."""
    if any(label.key == key and label.value == value for label in labels):
        return labels
    if any(label.key == key for label in labels):
        return tuple(Label(key, value) if label.key == key else label for label in labels)
    return (*labels, Label(key, value))
