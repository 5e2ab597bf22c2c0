"""Pebble-compatible templating: the expressions Kestra flows are written in.

Public API: :class:`TemplateEngine` (``render``, ``render_typed``, ``render_tree``,
``check_syntax``, ``uses_runtime``), :class:`TemplateLimits`, the runtime-functions protocol
(:class:`RuntimeFunctions`, :class:`RuntimeScope`) and the errors. Built on Jinja2's sandboxed
environment with a Pebble lexer/parser layer. Imports only the standard library, jinja2, jq,
yaml, orjson and itself.
"""

from __future__ import annotations

from .engine import TemplateEngine, TemplateLimits
from .errors import TemplateError, TemplateRenderError, TemplateSyntaxError, UndefinedVariableError
from .runtime import RuntimeFunctions, RuntimeScope

__all__ = [
    "RuntimeFunctions",
    "RuntimeScope",
    "TemplateEngine",
    "TemplateError",
    "TemplateLimits",
    "TemplateRenderError",
    "TemplateSyntaxError",
    "UndefinedVariableError",
]
