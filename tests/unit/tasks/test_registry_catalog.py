"""The core types' catalog (type name → module) matches the classes, and the registry imports a
family only when one of its names is resolved."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import Any

from lanner.tasks.base import CONDITION, TASK, TRIGGER, Plugin
from lanner.tasks.catalog import CORE_FAMILIES
from lanner.tasks.core.debug import Return
from lanner.tasks.registry import KINDS, TypeRegistry, core_models, default_registry

FAMILY_PACKAGES = ("lanner.tasks.core", "lanner.tasks.scripts")


def _declared(module: str) -> tuple[str, ...]:
    models: tuple[type[Plugin], ...] = importlib.import_module(module).MODELS
    return tuple(name for model in models for name in (model.TYPE, *model.ALIASES))


def test_the_catalog_lists_every_name_of_every_family_model() -> None:
    expected = {module: _declared(module) for module in CORE_FAMILIES}
    assert CORE_FAMILIES == expected, (
        "src/lanner/tasks/catalog.py is out of date; the table should read:\n"
        + json.dumps(expected, indent=4)
    )


def test_every_module_with_models_is_in_the_catalog() -> None:
    import pkgutil

    for package in FAMILY_PACKAGES:
        path = importlib.import_module(package).__path__
        for info in pkgutil.iter_modules(path):
            module = f"{package}.{info.name}"
            if hasattr(importlib.import_module(module), "MODELS"):
                assert module in CORE_FAMILIES, module


def test_a_name_resolves_to_the_class_of_its_family() -> None:
    for module, names in CORE_FAMILIES.items():
        models = importlib.import_module(module).MODELS
        for name in names:
            resolved = next(
                (r for kind in KINDS if (r := default_registry.resolve(name, kind)) is not None),
                None,
            )
            assert resolved is not None, name
            assert resolved.model in models, name
            assert resolved.is_alias == (name != resolved.model.TYPE), name


def test_models_lists_every_core_model_once_in_catalog_order() -> None:
    registry = TypeRegistry(families=CORE_FAMILIES, use_entry_points=False)
    registry.resolve("io.kestra.plugin.scripts.shell.Commands")  # loaded first, listed in place
    assert registry.models() == list(core_models())
    kinds = {TASK: 0, TRIGGER: 0, CONDITION: 0}
    for kind in kinds:
        kinds[kind] = len(registry.models(kind))
    assert all(kinds.values())
    assert sum(kinds.values()) == len(core_models())


def test_an_explicit_registration_wins_over_a_family_loaded_later() -> None:
    class Shadow(Return):
        TYPE = "io.kestra.plugin.core.debug.Return"
        ALIASES = ()

    registry = TypeRegistry((Shadow,), families=CORE_FAMILIES, use_entry_points=False)
    resolved = registry.resolve("io.kestra.core.tasks.debugs.Return")  # loads the family
    assert resolved is not None
    assert resolved.model is Return
    again = registry.resolve("io.kestra.plugin.core.debug.Return")
    assert again is not None
    assert again.model is Shadow


def test_an_unknown_name_loads_no_family() -> None:
    registry = TypeRegistry(families=CORE_FAMILIES, use_entry_points=False)
    assert registry.resolve("io.kestra.plugin.core.nope.Nothing") is None
    assert _loaded(registry) == []


def _loaded(registry: TypeRegistry) -> list[str]:
    loaded: Any = registry._loaded
    return list(loaded)


def test_resolving_a_type_imports_only_its_family() -> None:
    script = (
        "import sys\n"
        "from lanner.tasks.registry import default_registry\n"
        "assert default_registry.resolve('io.kestra.plugin.core.log.Log') is not None\n"
        "print(sorted(m for m in sys.modules if m.startswith('lanner.tasks.')))\n"
        "print('httpx' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    modules = eval(out[0])  # a printed list of strings
    assert "lanner.tasks.core.log" in modules
    assert "lanner.tasks.core.http" not in modules
    assert "lanner.tasks.core.storage" not in modules
    assert "lanner.tasks.scripts.shell" not in modules
    assert out[1] == "False"
