"""The plugin registry: type names and legacy aliases → property model classes.

Names resolve case-insensitively, as Kestra's plugin registry does. The core types are
registered up front; third-party ones come from the ``lanner.tasks`` entry-point group, loaded
the first time a name is not found. Imports pydantic (through the models) and the stdlib only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from threading import Lock

from lanner.tasks import conditions, executions, flowable, http, kv, logs, storage, subflows
from lanner.tasks import triggers as trigger_models
from lanner.tasks.base import CONDITION, TASK, TRIGGER, Plugin

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


CORE_MODELS: tuple[type[Plugin], ...] = (
    *logs.MODELS,
    *executions.MODELS,
    *flowable.MODELS,
    *subflows.MODELS,
    *kv.MODELS,
    *http.MODELS,
    *storage.MODELS,
    *trigger_models.TASK_MODELS,
    *trigger_models.TRIGGER_MODELS,
    *conditions.MODELS,
)

KINDS = (TASK, TRIGGER, CONDITION)

default_registry = TypeRegistry(CORE_MODELS)
"""The registry the flow parser uses: core types plus entry-point plugins."""
