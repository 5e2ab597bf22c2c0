"""The plugin registry: type names and legacy aliases → task, trigger and condition classes.

Names resolve case-insensitively, as Kestra's plugin registry does. The core types are known
by name up front (:data:`lanner.tasks.catalog.CORE_FAMILIES`) and their family's module is
imported the first time one of its names is resolved, so a process holds only the families its
flows use; :meth:`TypeRegistry.models` (every type, for the plugins API) imports them all.
Third-party types come from the ``lanner.tasks`` entry-point group, loaded the first time a
name is not found. :meth:`TypeRegistry.runnable` gives the engine a task's class instance (its
spec's properties validated) to call ``run`` on; :func:`has_runtime` says whether a type can
run here at all. Imports pydantic, ``lanner.tasks`` and the stdlib only.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from threading import RLock
from typing import Any, cast

from pydantic import ValidationError

from lanner.tasks.base import CONDITION, TASK, TRIGGER, Plugin
from lanner.tasks.catalog import CORE_FAMILIES
from lanner.tasks.context import Runnable
from lanner.tasks.failures import TaskFailure

ENTRY_POINT_GROUP = "lanner.tasks"

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved type name: the model class and whether the name was a legacy alias."""

    model: type[Plugin]
    name: str
    is_alias: bool

    @property
    def type(self) -> str:
        """The canonical (current) type name."""
        return self.model.TYPE


class TypeRegistry:
    """Maps type names (canonical and aliases, any case) to plugin model classes.

    ``families`` maps a module path to the type names its ``MODELS`` declare: the module is
    imported when one of them is first resolved. A model registered explicitly keeps its names
    against a family loaded later."""

    def __init__(
        self,
        models: Iterable[type[Plugin]] = (),
        *,
        families: Mapping[str, tuple[str, ...]] | None = None,
        use_entry_points: bool = True,
    ):
        self._by_name: dict[str, type[Plugin]] = {}
        self._families = dict(families or {})
        self._family_of = {
            name.lower(): module for module, names in self._families.items() for name in names
        }
        self._loaded: dict[str, tuple[type[Plugin], ...]] = {}
        self._entry_points_loaded = not use_entry_points
        self._lock = RLock()
        for model in models:
            self.register(model)

    def register(self, model: type[Plugin]) -> None:
        """Register a model under its ``TYPE`` and every alias."""
        if not model.TYPE:
            raise ValueError(f"{model.__name__} declares no TYPE")
        for name in (model.TYPE, *model.ALIASES):
            self._by_name[name.lower()] = model

    def resolve(self, name: str, kind: str = TASK) -> Resolved | None:
        """The model registered for ``name`` when it is of ``kind``, else ``None``."""
        key = name.lower()
        model = self._by_name.get(key)
        if model is None and key in self._family_of:
            self._load_family(self._family_of[key])
            model = self._by_name.get(key)
        if model is None and not self._entry_points_loaded:
            self._load_entry_points()
            model = self._by_name.get(key)
        if model is None or model.KIND != kind:
            return None
        return Resolved(model, name, key != model.TYPE.lower())

    def runnable(self, type_name: str, properties: Mapping[str, Any]) -> Runnable:
        """The task ``type_name`` built from ``properties`` (a spec's, ``id`` and ``type``
        included), ready for ``run``; a non-retryable :class:`TaskFailure` when the type is
        unknown, has no ``run`` or the properties do not validate."""
        resolved = self.resolve(type_name, TASK)
        if resolved is None or not has_run(resolved.model):
            raise TaskFailure(
                f"task type {type_name} cannot run on this server yet", retryable=False
            )
        try:
            task = resolved.model.model_validate(dict(properties))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(task)'}: {e['msg']}"
                for e in error.errors()
            )
            raise TaskFailure(
                f"invalid properties for {type_name}: {problems}", retryable=False
            ) from None
        return cast(Runnable, task)  # has_run checked it (isinstance on a protocol is slow)

    def models(self, kind: str | None = None) -> list[type[Plugin]]:
        """Every registered model (of ``kind`` when given), each once: the families' in
        their order (all imported), then the others in registration order."""
        for module in self._families:
            self._load_family(module)
        registered = {id(m): m for m in self._by_name.values()}
        ordered = {id(m): m for module in self._families for m in self._loaded[module]}
        unique = {k: m for k, m in ordered.items() if k in registered} | registered
        return [m for m in unique.values() if kind is None or m.KIND == kind]

    def _load_family(self, module: str) -> None:
        if module in self._loaded:
            return
        with self._lock:
            if module in self._loaded:
                return
            models: tuple[type[Plugin], ...] = importlib.import_module(module).MODELS
            for model in models:
                for name in (model.TYPE, *model.ALIASES):
                    self._by_name.setdefault(name.lower(), model)
            self._loaded[module] = models

    def _load_entry_points(self) -> None:
        with self._lock:
            if self._entry_points_loaded:
                return
            self._entry_points_loaded = True
            for entry in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    loaded = entry.load()
                except Exception:  # a broken plugin must not break flow parsing
                    _log.exception("cannot load task plugin %s", entry.value)
                    continue
                candidates = loaded if isinstance(loaded, list | tuple) else (loaded,)
                for model in candidates:
                    if isinstance(model, type) and issubclass(model, Plugin):
                        self.register(model)
                    else:
                        _log.warning("entry point %s is not a plugin model", entry.value)


def has_run(model: type[Plugin]) -> bool:
    """Whether the class carries a ``run`` method (the engine calls it on a worker)."""
    return callable(getattr(model, "run", None))


def has_runtime(model: type[Plugin]) -> bool:
    """Whether a task of this type can run here: resolved by the executor (flowable), run by
    the engine itself (``Subflow``) or by its ``run`` method."""
    if model.IS_UNRESOLVED:
        return False
    return model.IS_FLOWABLE or model.IS_RUN_BY_ENGINE or has_run(model)


def core_models() -> tuple[type[Plugin], ...]:
    """Every core model, in :data:`CORE_FAMILIES` order (imports every family)."""
    return tuple(
        model
        for module in CORE_FAMILIES
        for model in cast(tuple[type[Plugin], ...], importlib.import_module(module).MODELS)
    )


KINDS = (TASK, TRIGGER, CONDITION)

default_registry = TypeRegistry(families=CORE_FAMILIES)
"""The registry the flow parser uses: core types (imported by family on first use) plus
entry-point plugins."""
