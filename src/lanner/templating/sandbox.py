"""The Jinja environment configured as Pebble in Kestra, and its sandbox.

Kestra's settings: strict variables (a missing name raises at once, naming it), no
auto-escaping, no newline trimming, output through Kestra's ``JsonWriter`` rules
(``printing.output_string``). The sandbox goes further than Jinja's
``SandboxedEnvironment``, which it extends: attribute and subscript access only ever read
map keys, list items and Pebble's loop/entry fields (never a Python attribute, so
``''.__class__`` or ``__globals__`` cannot be reached), there are no globals besides the
registered functions, templates cannot load other templates, and loops are bounded.

Imports only jinja2, ``lanner.domain.times`` and this package.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping, MutableMapping, Sized
from typing import Any, NoReturn

from jinja2.environment import Template
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing

from lanner.domain.times import utc_now

from . import operators
from .compiler import PebbleCodeGenerator
from .dates import DATE_FILTERS
from .errors import TemplateRenderError
from .functions import FUNCTIONS
from .operators import PebbleUndefined
from .parser import PebbleLexer, PebbleParser
from .printing import Entry, output_string
from .runtime import RuntimeFunctions
from .sequences import SEQUENCE_FILTERS, TESTS
from .strings import TEXT_FILTERS

LOOP_FIELDS = frozenset({"index", "first", "last", "length", "revindex"})


class MissingVariable(Undefined):
    """Jinja's undefined value, made strict: creating one raises, as Pebble does."""

    __slots__ = ()

    def __new__(
        cls,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: Any = None,
    ) -> NoReturn:
        if name is not None:
            raise PebbleUndefined(str(name))
        raise PebbleUndefined("?", hint or "undefined value")


class PebbleLoop(LoopContext):
    """Pebble's ``loop``: 0-based ``index`` and ``revindex``."""

    @property
    def index(self) -> int:
        return self.index0

    @property
    def revindex(self) -> int:
        return self.length - self.index0 - 1


class PebbleContext(Context):
    """A render context that counts loop iterations and knows when the render must end."""

    steps = 0
    deadline = math.inf


def render_timeout(seconds: float) -> str:
    return f"render took longer than {seconds:g} s (template-timeout)"


class PebbleTemplate(Template):
    """Compiled template whose ``for`` loops use :class:`PebbleLoop`."""

    @classmethod
    def _from_namespace(
        cls,
        environment: Any,
        namespace: MutableMapping[str, Any],
        globals: MutableMapping[str, Any],
    ) -> Any:
        namespace["LoopContext"] = PebbleLoop
        return super()._from_namespace(environment, namespace, globals)


class PebbleEnvironment(SandboxedEnvironment):
    """Jinja's sandboxed environment speaking Pebble."""

    code_generator_class = PebbleCodeGenerator
    context_class = PebbleContext
    template_class = PebbleTemplate

    def __init__(
        self,
        *,
        runtime: RuntimeFunctions | None,
        render_value: Callable[[Any, Mapping[str, Any], bool], Any],
        clock: Callable[[], dt.datetime] = utc_now,
        default_zone: dt.tzinfo = dt.UTC,
        max_loop_iterations: int = 100_000,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(
            autoescape=False,
            undefined=MissingVariable,
            finalize=output_string,
            keep_trailing_newline=True,
            cache_size=0,
            auto_reload=False,
        )
        self.globals = {}
        self.filters = {**TEXT_FILTERS, **SEQUENCE_FILTERS, **DATE_FILTERS}
        self.tests = dict(TESTS)
        self.functions = dict(FUNCTIONS)
        self.pebble = operators
        self.runtime = runtime
        self.render_value = render_value
        self.clock = clock
        self.default_zone = default_zone
        self.max_loop_iterations = max_loop_iterations
        self.timeout_s = timeout_s
        self._pebble_lexer = PebbleLexer(self)

    @property
    def lexer(self) -> PebbleLexer:
        return self._pebble_lexer

    def _parse(self, source: str, name: str | None, filename: str | None) -> Any:
        return PebbleParser(self, source, name, filename).parse()

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self.getitem(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Pebble's attribute resolution, restricted to data."""
        if type(obj) is dict and type(argument) is str:
            try:
                return obj[argument]
            except KeyError:
                raise PebbleUndefined(argument) from None
        if isinstance(obj, Mapping):
            if argument in obj:
                return obj[argument]
            if isinstance(argument, int) and not isinstance(argument, bool):
                if str(argument) in obj:
                    return obj[str(argument)]
            raise PebbleUndefined(output_string(argument))
        if isinstance(obj, list | tuple):
            index = argument
            if isinstance(argument, str) and argument.isdigit():
                index = int(argument)
            if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(obj):
                return obj[index]
            raise PebbleUndefined(output_string(argument))
        if isinstance(obj, Context):
            found = obj.resolve_or_missing(str(argument))
            if found is missing:
                raise PebbleUndefined(str(argument))
            return found
        if obj is None:
            name = output_string(argument)
            raise PebbleUndefined(name, f"Unable to find `{name}`: attribute of a null object")
        if isinstance(argument, str):
            if argument.startswith("_"):
                raise TemplateRenderError(f"access to attribute '{argument}' is not allowed")
            if isinstance(obj, Entry) and argument in ("key", "value"):
                return getattr(obj, argument)
            if isinstance(obj, PebbleLoop) and argument in LOOP_FIELDS:
                return getattr(obj, argument)
        raise PebbleUndefined(output_string(argument))

    def iterate(self, context: PebbleContext, value: Any) -> Sized:
        """What a ``for`` loop walks, within the render's iteration budget."""
        items = operators.entries(value)
        context.steps += len(items)
        if context.steps > self.max_loop_iterations:
            limit = self.max_loop_iterations
            raise TemplateRenderError(
                f"loops exceeded {limit} iterations in one render (template-max-loop-iterations)"
            )
        if time.monotonic() > context.deadline:
            raise TemplateRenderError(render_timeout(self.timeout_s))
        return items
