"""Flow input and output declarations (the ``inputs[]`` and ``outputs[]`` of a flow).

Only the declaration lives here; coercing submitted values is the engine's job. Imports only the
standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class InputType(StrEnum):
    """The input (and flow output) types Kestra knows."""

    STRING = "STRING"
    ENUM = "ENUM"
    SELECT = "SELECT"
    MULTISELECT = "MULTISELECT"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    BOOL = "BOOL"
    DATETIME = "DATETIME"
    DATE = "DATE"
    TIME = "TIME"
    DURATION = "DURATION"
    FILE = "FILE"
    JSON = "JSON"
    URI = "URI"
    SECRET = "SECRET"
    ARRAY = "ARRAY"
    YAML = "YAML"
    EMAIL = "EMAIL"


@dataclass(frozen=True, slots=True)
class DependsOn:
    """``dependsOn`` of an input: the inputs it waits for and an optional Pebble condition."""

    inputs: tuple[str, ...] = ()
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One declared input; ``properties`` holds the type-specific ones (``validator``, ``min``…)."""

    id: str
    type: InputType
    description: str | None = None
    display_name: str | None = None
    required: bool = True
    defaults: Any = None
    has_defaults: bool = False
    depends_on: DependsOn | None = None
    properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def is_file(self) -> bool:
        return self.type is InputType.FILE


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One flow output: rendered from ``value`` at the end of an execution, typed like inputs."""

    id: str
    type: InputType
    value: Any
    description: str | None = None
    display_name: str | None = None
    required: bool = True


_DECLARATION_KEYS = frozenset({"id", "name", "type", "required", "defaults", "description"})


def resume_input_specs(raw: Any) -> tuple[InputSpec, ...]:
    """A Pause task's ``onResume`` declarations as input specs (items that are not a valid
    declaration are left out: they were refused at flow save)."""
    if not isinstance(raw, list):
        return ()
    specs = []
    for item in raw:
        if (
            not isinstance(item, Mapping)
            or InputType.__members__.get(str(item.get("type"))) is None
        ):
            continue
        specs.append(
            InputSpec(
                id=str(item.get("id", item.get("name", ""))),
                type=InputType(str(item["type"])),
                required=item.get("required", True) is not False,
                defaults=item.get("defaults"),
                has_defaults="defaults" in item,
                properties=MappingProxyType(
                    {k: v for k, v in item.items() if k not in _DECLARATION_KEYS}
                ),
            )
        )
    return tuple(specs)
