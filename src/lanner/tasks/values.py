"""Property value helpers shared by task families: Pebble truthiness and boolean flags.

Imports the standard library only.
"""

from __future__ import annotations

from typing import Any


def is_truthy(value: Any) -> bool:
    """Pebble truthiness of a rendered condition (``"true"``, ``True``, non-zero...)."""
    if isinstance(value, str):
        text = value.strip().lower()
        return text not in ("", "false", "0", "null", "none")
    return bool(value)


def as_flag(value: Any) -> bool:
    """A rendered boolean property: only ``"true"`` (any case) is true among strings."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
