"""The engine: the executor (a pure decision function and the loop applying its decisions),
the worker running runnable tasks, and the change feed that wakes waiters.

Public API: :class:`Engine` (``start``, ``stop``), :func:`decide`, the event and job kinds in
``events``. Imports the domain, templating, tasks and the store *protocols*; never a database
driver. Submodules load lazily so that importing ``lanner.engine.feeds`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lanner.engine.executor import decide
    from lanner.engine.service import Engine

__all__ = ["Engine", "decide"]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from lanner.engine.service import Engine

        return Engine
    if name == "decide":
        from lanner.engine.executor import decide

        return decide
    raise AttributeError(name)
