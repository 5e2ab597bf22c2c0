"""The plugin registry: type names and legacy aliases → task, trigger and condition classes.

Names resolve case-insensitively, as Kestra's plugin registry does. The core types are
registered up front; third-party ones come from the ``lanner.tasks`` entry-point group, loaded
the first time a name is not found. :meth:`TypeRegistry.runnable` gives the engine a task's
class instance (its spec's properties validated) to call ``run`` on; :func:`has_runtime` says
whether a type can run here at all. Imports pydantic, ``lanner.tasks`` and the stdlib only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from threading import Lock
from typing import Any, cast

from pydantic import ValidationError

from lanner.tasks.base import CONDITION, TASK, TRIGGER, Plugin
from lanner.tasks.context import Runnable
from lanner.tasks.core import (
    condition,
    debug,
    execution,
    flow,
    http,
    kv,
    log,
    output,
    storage,
    subflow,
    templating,
    trigger,
)
from lanner.tasks.failures import TaskFailure
from lanner.tasks.scripts import node, python, shell

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
    """Maps type names (canonical and aliases, any case) to plugin model classes."""

    def __init__(self, models: tuple[type[Plugin], ...] = (), *, use_entry_points: bool = True):
        self._by_name: dict[str, type[Plugin]] = {}
        self._entry_points_loaded = not use_entry_points
        self._lock = Lock()
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
        model = self._by_name.get(name.lower())
        if model is None and not self._entry_points_loaded:
            self._load_entry_points()
            model = self._by_name.get(name.lower())
        if model is None or model.KIND != kind:
            return None
        return Resolved(model, name, name.lower() != model.TYPE.lower())

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
        """Every registered model (of ``kind`` when given), each once."""
        unique = {id(m): m for m in self._by_name.values()}
        return [m for m in unique.values() if kind is None or m.KIND == kind]

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


CORE_MODELS: tuple[type[Plugin], ...] = (
    *log.MODELS,
    *debug.MODELS,
    *output.MODELS,
    *execution.MODELS,
    *flow.MODELS,
    *subflow.MODELS,
    *kv.MODELS,
    *http.MODELS,
    *storage.MODELS,
    *templating.MODELS,
    *trigger.TASK_MODELS,
    *trigger.TRIGGER_MODELS,
    *condition.MODELS,
    *shell.MODELS,
    *python.MODELS,
    *node.MODELS,
)

KINDS = (TASK, TRIGGER, CONDITION)

default_registry = TypeRegistry(CORE_MODELS)
"""The registry the flow parser uses: core types plus entry-point plugins."""
