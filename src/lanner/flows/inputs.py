"""Reads a flow's ``inputs``, ``outputs`` and ``labels`` into domain values, strictly."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from lanner.domain.inputs import DependsOn, InputSpec, InputType, OutputSpec
from lanner.domain.labels import FLOW_ALLOWED_SYSTEM_LABELS, Label, label_text, labels_from_map
from lanner.flows.loader import Path
from lanner.flows.problems import Problems
from lanner.regexes import PatternError, compile_java

INPUT_ID_RE = re.compile(r"[a-zA-Z0-9][.a-zA-Z0-9_-]*")

_COMMON = frozenset(
    {"id", "name", "type", "description", "displayName", "required", "defaults", "dependsOn",
     "prefill"}
)  # fmt: skip
_SELECT = frozenset({"values", "options", "expression", "allowCustomValue", "autoSelectFirst"})
_EXTRA: dict[InputType, frozenset[str]] = {
    InputType.STRING: frozenset({"validator"}),
    InputType.SECRET: frozenset({"validator"}),
    InputType.ENUM: frozenset({"values"}),
    InputType.SELECT: _SELECT | {"isRadio"},
    InputType.MULTISELECT: _SELECT | {"itemType"},
    InputType.INT: frozenset({"min", "max"}),
    InputType.FLOAT: frozenset({"min", "max"}),
    InputType.DURATION: frozenset({"min", "max"}),
    InputType.DATETIME: frozenset({"after", "before"}),
    InputType.DATE: frozenset({"after", "before"}),
    InputType.TIME: frozenset({"after", "before"}),
    InputType.FILE: frozenset({"extension", "allowedFileExtensions"}),
    InputType.ARRAY: frozenset({"itemType"}),
}
_OUTPUT_KEYS = frozenset({"id", "type", "value", "description", "displayName", "required"})


def parse_inputs(raw: Any, path: Path, problems: Problems) -> tuple[InputSpec, ...]:
    """The ``inputs`` list; every problem is recorded with its path."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(path, "must be a list of inputs")
        return ()
    specs = (_input(item, (*path, i), problems) for i, item in enumerate(raw))
    return tuple(spec for spec in specs if spec is not None)


def _input(raw: Any, path: Path, problems: Problems) -> InputSpec | None:
    if not isinstance(raw, Mapping):
        problems.add(path, "must be an object (an input)")
        return None
    input_id = raw.get("id", raw.get("name"))
    if input_id is None or input_id == "":
        problems.add((*path, "id"), "must not be null")
    elif not INPUT_ID_RE.fullmatch(str(input_id)):
        problems.add((*path, "id"), f'must match "^{INPUT_ID_RE.pattern}$"')
    input_type = _type(raw.get("type"), (*path, "type"), problems)
    if input_type is None:
        return None
    allowed = _COMMON | _EXTRA.get(input_type, frozenset())
    for key in raw:
        if key not in allowed:
            problems.add(
                (*path, key), f'Unrecognized field "{key}" for an input of type {input_type}'
            )
    _check_input(raw, input_type, path, problems)
    required = raw.get("required", True)
    if not isinstance(required, bool):
        problems.add((*path, "required"), "must be a boolean")
    return InputSpec(
        id=str(input_id or ""),
        type=input_type,
        description=_text(raw.get("description")),
        display_name=_text(raw.get("displayName")),
        required=required is not False,
        defaults=raw.get("defaults"),
        has_defaults="defaults" in raw,
        depends_on=_depends_on(raw.get("dependsOn"), (*path, "dependsOn"), problems),
        properties=MappingProxyType({k: v for k, v in raw.items() if k not in _COMMON}),
    )


def _check_input(raw: Mapping[str, Any], kind: InputType, path: Path, problems: Problems) -> None:
    validator = raw.get("validator")
    if validator is not None:
        try:
            compile_java(str(validator))
        except PatternError:
            problems.add((*path, "validator"), f"invalid pattern [{validator}]")
    if kind is InputType.FILE and raw.get("defaults") is not None:
        problems.add((*path, "defaults"), "no `defaults` can be set for inputs of type 'FILE'")
    if kind is InputType.ARRAY:
        item_type = _type(raw.get("itemType"), (*path, "itemType"), problems)
        if item_type is InputType.ARRAY:
            problems.add((*path, "itemType"), "`itemType` cannot be `ARRAY`")
    if kind in (InputType.ENUM, InputType.SELECT, InputType.MULTISELECT):
        values = raw.get("values", raw.get("options"))
        if values is None and raw.get("expression") is None:
            problems.add((*path, "values"), "must not be null")
        elif values is not None and not isinstance(values, list):
            problems.add((*path, "values"), "must be a list")


def _type(value: Any, path: Path, problems: Problems) -> InputType | None:
    if value is None or value == "":
        problems.add(path, "must not be null")
        return None
    try:
        return InputType(str(value))
    except ValueError:
        problems.add(path, f"Invalid type: {value}")
        return None


def _depends_on(raw: Any, path: Path, problems: Problems) -> DependsOn | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"inputs", "condition"}:
        problems.add(path, "must be an object with `inputs` and `condition`")
        return None
    inputs = raw.get("inputs") or []
    if not isinstance(inputs, list):
        problems.add((*path, "inputs"), "must be a list")
        inputs = []
    condition = raw.get("condition")
    return DependsOn(tuple(str(i) for i in inputs), None if condition is None else str(condition))


def parse_outputs(raw: Any, path: Path, problems: Problems) -> tuple[OutputSpec, ...]:
    """The flow ``outputs`` list."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(path, "must be a list of outputs")
        return ()
    outputs = []
    for i, item in enumerate(raw):
        where = (*path, i)
        if not isinstance(item, Mapping):
            problems.add(where, "must be an object (an output)")
            continue
        for key in item:
            if key not in _OUTPUT_KEYS:
                problems.add((*where, key), f'Unrecognized field "{key}"')
        output_id = item.get("id")
        if not output_id:
            problems.add((*where, "id"), "must not be null")
        elif not INPUT_ID_RE.fullmatch(str(output_id)):
            problems.add((*where, "id"), f'must match "^{INPUT_ID_RE.pattern}$"')
        if "value" not in item:
            problems.add((*where, "value"), "must not be null")
        output_type = _type(item.get("type"), (*where, "type"), problems)
        if output_type is None:
            continue
        outputs.append(
            OutputSpec(
                id=str(output_id or ""),
                type=output_type,
                value=item.get("value"),
                description=_text(item.get("description")),
                display_name=_text(item.get("displayName")),
                required=item.get("required", True) is not False,
            )
        )
    return tuple(outputs)


def parse_labels(raw: Any, path: Path, problems: Problems) -> tuple[Label, ...]:
    """Labels from the map form or the ``[{key, value}]`` list form; no system labels."""
    if raw is None:
        return ()
    if isinstance(raw, Mapping):
        labels = labels_from_map(raw)
    elif isinstance(raw, list):
        pairs = []
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping) or set(item) - {"key", "value"} or not item.get("key"):
                problems.add((*path, i), "must be an object with `key` and `value`")
                continue
            pairs.append(Label(str(item["key"]), label_text(item.get("value"))))
        labels = tuple(pairs)
    else:
        problems.add(path, "must be a map or a list of {key, value}")
        return ()
    for label in labels:
        if label.is_system and label.key not in FLOW_ALLOWED_SYSTEM_LABELS:
            problems.add(
                path,
                "System labels can only be set by Kestra itself, offending label: "
                f"{label.key}={label.value}",
            )
    return labels


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
