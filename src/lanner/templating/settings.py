"""``RenderSettings``: what filters and functions read from the environment rendering them.

:class:`~lanner.templating.sandbox.PebbleEnvironment` provides it; ``dates`` and ``functions``
program against this protocol, so they sit below ``sandbox`` (which imports them to register
them) and never import it. Imports only the standard library and this package's ``runtime``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .runtime import RuntimeFunctions


class RenderSettings(Protocol):
    """The environment as a filter or a function sees it (``context.environment``)."""

    @property
    def runtime(self) -> RuntimeFunctions | None:
        """The server's functions (``secret()``, ``kv()``...), None outside the server."""
        ...

    @property
    def render_value(self) -> Callable[[Any, Mapping[str, Any], bool], Any]:
        """Render a value (``render()``): the value, the variables, recursively or not."""
        ...

    @property
    def clock(self) -> Callable[[], dt.datetime]:
        """The current time (``now()``)."""
        ...

    @property
    def default_zone(self) -> dt.tzinfo:
        """The zone dates are shown in when a filter names none."""
        ...

    @property
    def max_loop_iterations(self) -> int:
        """The bound on loops and ``range()``."""
        ...
