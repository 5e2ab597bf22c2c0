"""The public face of templating: :class:`TemplateEngine`.

Compiles Pebble templates once (LRU keyed by source), renders them against plain-data contexts,
renders whole property trees, returns typed values for single-expression templates, and turns
every failure into the package's errors (``errors.py``) with the expression and line.
Rendering is synchronous; see ``runtime.py`` for why and how the engine calls it.

Imports only the standard library, jinja2 and this package.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import nodes

from .compiler import FunctionCall, RawOutput
from .errors import TemplateError, TemplateRenderError, TemplateSyntaxError, UndefinedVariableError
from .functions import RUNTIME_FUNCTIONS
from .operators import PebbleUndefined
from .runtime import RuntimeFunctions
from .sandbox import PebbleEnvironment, render_timeout

MAX_RECURSIVE_RENDERS = 100
_RENDER_ERRORS = (
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
    RecursionError,
    jinja2.TemplateError,
)


@dataclass(frozen=True, slots=True)
class TemplateLimits:
    """Bounds of one render; exceeding one is a :class:`TemplateRenderError`."""

    max_output_chars: int = 10_000_000
    """Characters of one render's text, or of a typed render's value printed."""
    max_loop_iterations: int = 100_000
    timeout_s: float = 10.0
    """Seconds one render may take (checked at each loop step and output part)."""
    cache_size: int = 1000


class _Compiled(NamedTuple):
    template: jinja2.Template
    typed: bool
    uses_runtime: bool


class TemplateEngine:
    """Renders Kestra's Pebble expressions.

    ``runtime`` serves the server-backed functions (``secret``, ``kv``, ``read``...); without
    it they fail with a render error. ``clock`` feeds ``now()``; ``default_zone`` is the zone
    of date filters without ``timeZone`` (Kestra uses the server's zone, UTC in practice).
    """

    def __init__(
        self,
        runtime: RuntimeFunctions | None = None,
        *,
        limits: TemplateLimits | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        default_zone: str = "UTC",
    ) -> None:
        self.limits = limits or TemplateLimits()
        self._env = PebbleEnvironment(
            runtime=runtime,
            render_value=self._render_value,
            clock=clock or (lambda: dt.datetime.now(dt.UTC)),
            default_zone=ZoneInfo(default_zone),
            max_loop_iterations=self.limits.max_loop_iterations,
            timeout_s=self.limits.timeout_s,
        )
        self._compile = functools.lru_cache(maxsize=self.limits.cache_size)(self._compile_uncached)

    # -- public API --------------------------------------------------------------------------

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        """Render ``template`` to text (maps and lists print as JSON, as in Kestra)."""
        if "{" not in template:
            return template
        compiled = self._compile(template, False)
        return self._run_text(compiled.template, template, context)

    def render_typed(self, template: str, context: Mapping[str, Any]) -> Any:
        """Like :meth:`render`, but a template that is one ``{{ expr }}`` (surrounding
        whitespace aside) returns the expression's value with its type (``null`` is ``None``).
        """
        if "{" not in template:
            return template
        compiled = self._compile(template, True)
        if not compiled.typed:
            return self._run_text(compiled.template, template, context)
        return self._run(compiled.template, template, context, typed=True)

    def render_tree(self, value: Any, context: Mapping[str, Any], *, typed: bool = False) -> Any:
        """Render every string inside maps and lists (keys too); other values are kept."""
        if isinstance(value, str):
            return self.render_typed(value, context) if typed else self.render(value, context)
        if isinstance(value, Mapping):
            rendered: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self.render(key, context) if isinstance(key, str) else key
                rendered.setdefault(new_key, self.render_tree(item, context, typed=typed))
            return rendered
        if isinstance(value, list | tuple):
            return [self.render_tree(item, context, typed=typed) for item in value]
        return value

    def check_syntax(self, template: str) -> None:
        """Raise :class:`TemplateSyntaxError` if ``template`` does not parse."""
        if "{" in template:
            self._compile(template, False)

    def uses_runtime(self, template: str) -> bool:
        """Whether ``template`` calls a server-backed function (render it off the loop)."""
        return "{" in template and self._compile(template, False).uses_runtime

    # -- compilation -------------------------------------------------------------------------

    def _compile_uncached(self, source: str, typed: bool) -> _Compiled:
        try:
            tree = self._env.parse(source)
            calls = {call.name for call in tree.find_all(FunctionCall)}
            is_single = typed and _single_expression(tree) is not None
            if is_single:
                expression = _single_expression(tree)
                assert expression is not None
                tree = nodes.Template([RawOutput(expression, lineno=1)], lineno=1)
            template = self._env.from_string(tree)
        except jinja2.TemplateSyntaxError as error:
            raise TemplateSyntaxError(
                f"{error.message} in the expression `{source}` at line {error.lineno}",
                source,
                error.lineno,
            ) from None
        return _Compiled(template, is_single, bool(calls & RUNTIME_FUNCTIONS))

    # -- rendering ---------------------------------------------------------------------------

    def _run_text(self, template: jinja2.Template, source: str, context: Mapping[str, Any]) -> str:
        result = self._run(template, source, context, typed=False)
        assert isinstance(result, str)
        return result

    def _run(
        self, template: jinja2.Template, source: str, context: Mapping[str, Any], typed: bool
    ) -> Any:
        try:
            render_context = template.new_context(context, shared=True)  # type: ignore[arg-type]
            deadline = time.monotonic() + self.limits.timeout_s
            render_context.deadline = deadline  # type: ignore[attr-defined]
            limit = self.limits.max_output_chars
            if typed:
                value = next(template.root_render_func(render_context), None)
                if isinstance(value, str) and len(value) > limit:
                    raise TemplateRenderError(
                        f"output longer than {limit} characters (template-max-output-chars)"
                    )
                return value
            parts, size = [], 0
            for part in template.root_render_func(render_context):
                size += len(part)
                if size > limit:
                    raise TemplateRenderError(
                        f"output longer than {limit} characters (template-max-output-chars)"
                    )
                if time.monotonic() > deadline:
                    raise TemplateRenderError(render_timeout(self.limits.timeout_s))
                parts.append(part)
            return "".join(parts)
        except PebbleUndefined as error:
            line = _template_line(error.__traceback__)
            message = f"{error.message} used in the expression `{source}` at line {line}"
            raise UndefinedVariableError(message, source, line, error.name) from None
        except TemplateError as error:
            if error.expression is None:
                error.expression = source
                error.line = _template_line(error.__traceback__)
                error.message = f"{error.message} in the expression `{source}` at line {error.line}"
                error.args = (error.message,)
            raise
        except _RENDER_ERRORS as error:
            line = _template_line(error.__traceback__)
            detail = str(error) or type(error).__name__
            message = f"{detail} in the expression `{source}` at line {line}"
            raise TemplateRenderError(message, source, line) from None

    def _render_value(self, value: Any, variables: Mapping[str, Any], recursive: bool) -> Any:
        """``render()``/``renderOnce()``: render a value again, optionally to a fixed point."""
        if isinstance(value, Mapping | list | tuple):
            return (
                self.render_tree(value, variables)
                if not recursive
                else _map_tree(value, lambda text: self._render_value(text, variables, True))
            )
        if not isinstance(value, str):
            return value
        result = self.render(value, variables)
        for _ in range(MAX_RECURSIVE_RENDERS):
            if not recursive or result == value:
                return result
            value, result = result, self.render(result, variables)
        raise TemplateRenderError("Too many rendering attempts")


def _map_tree(value: Any, render: Callable[[str], Any]) -> Any:
    if isinstance(value, str):
        return render(value)
    if isinstance(value, Mapping):
        return {
            render(k) if isinstance(k, str) else k: _map_tree(v, render) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_map_tree(item, render) for item in value]
    return value


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is only ``{{ expr }}`` and whitespace."""
    body = [
        node
        for node in tree.body
        if not (
            isinstance(node, nodes.Output)
            and all(isinstance(n, nodes.TemplateData) and not n.data.strip() for n in node.nodes)
        )
    ]
    if len(body) != 1 or not isinstance(body[0], nodes.Output):
        return None
    expressions = [
        n for n in body[0].nodes if not (isinstance(n, nodes.TemplateData) and not n.data.strip())
    ]
    if len(expressions) != 1 or isinstance(expressions[0], nodes.TemplateData):
        return None
    return expressions[0]


def _template_line(traceback: TracebackType | None) -> int | None:
    line = None
    while traceback is not None:
        template = traceback.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(traceback.tb_lineno)
        traceback = traceback.tb_next
    return line
