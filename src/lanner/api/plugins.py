"""Plugins API (Kestra ``GET /api/v1/plugins`` and ``GET /api/v1/plugins/{cls}``): the
registered task, trigger and condition types, and one type's JSON schema.

The schemas are the pydantic models' own (:mod:`lanner.tasks`), in Kestra's envelope
``{"markdown", "schema": {"properties", "outputs", "definitions"}}``: ``properties`` is the
type's object schema (its ``properties`` and ``required``), ``definitions`` the shared
sub-schemas its ``$ref``s point at (``#/definitions/<name>``). The web UI's editor completes
``type:`` values from the list and property keys from a type's schema. A legacy alias resolves
to its current type. Computed once per type (the registry does not change at run time).
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Path

from lanner.api.models import ok
from lanner.api.problems import error_responses
from lanner.api.wire import JsonResponse
from lanner.errors import NotFoundError
from lanner.tasks.base import CONDITION, TASK, TRIGGER, Plugin
from lanner.tasks.registry import KINDS, default_registry

router = APIRouter(tags=["Plugins"], default_response_class=JsonResponse)

ClsPath = Annotated[str, Path(max_length=255)]
_KIND_KEYS = {TASK: "tasks", TRIGGER: "triggers", CONDITION: "conditions"}


def _group(type_name: str) -> str:
    """``io.kestra.plugin.core.log.Log`` → ``io.kestra.plugin.core``: one entry per plugin."""
    return ".".join(type_name.split(".")[:4])


@cache
def plugin_list() -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        for model in default_registry.models(kind):
            if model.IS_UNRESOLVED:
                continue
            group = _group(model.TYPE)
            entry = groups.setdefault(
                group,
                {
                    "name": group.rsplit(".", 1)[-1],
                    "title": group.rsplit(".", 1)[-1],
                    "group": group,
                    "tasks": [],
                    "triggers": [],
                    "conditions": [],
                    "aliases": [],
                },
            )
            entry[_KIND_KEYS[kind]].append(model.TYPE)
            entry["aliases"].extend(model.ALIASES)
    for entry in groups.values():
        for key in ("tasks", "triggers", "conditions", "aliases"):
            entry[key].sort()
    return [groups[name] for name in sorted(groups)]


def _rewrite_refs(value: Any) -> Any:
    """Pydantic's ``#/$defs/X`` references (``$ref`` and discriminator mappings) as Kestra's
    ``#/definitions/X``."""
    if isinstance(value, dict):
        return {key: _rewrite_refs(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite_refs(item) for item in value]
    if isinstance(value, str) and value.startswith("#/$defs/"):
        return "#/definitions/" + value.removeprefix("#/$defs/")
    return value


@cache
def plugin_schema(model: type[Plugin]) -> dict[str, Any]:
    schema = _rewrite_refs(model.model_json_schema())
    definitions = schema.pop("$defs", {})
    schema["title"] = model.TYPE.rsplit(".", 1)[-1]
    doc = (model.__doc__ or "").strip()
    if doc:
        schema["description"] = doc
    return {
        "markdown": f"# {model.TYPE}\n\n{doc}\n" if doc else f"# {model.TYPE}\n",
        "schema": {"properties": schema, "outputs": {}, "definitions": definitions},
    }


@router.get(
    "/plugins",
    summary="The registered plugins and their task, trigger and condition types",
    responses=ok(list[dict[str, Any]]),
)
async def list_plugins() -> Any:
    return plugin_list()


@router.get(
    "/plugins/{cls}",
    summary="A type's documentation and JSON schema",
    responses={**ok(dict[str, Any]), **error_responses(404)},
)
async def get_plugin(cls: ClsPath) -> Any:
    for kind in KINDS:
        resolved = default_registry.resolve(cls, kind)
        if resolved is not None and not resolved.model.IS_UNRESOLVED:
            return plugin_schema(resolved.model)
    raise NotFoundError(f"Plugin '{cls[:100]}' not found")
