"""Errors raised by the templating package.

Kept as small classes with structured fields so the engine can turn them into a FAILED task
run (render errors) or a 422 at flow validation (syntax errors). They may later be re-parented
under the project's error base. Imports only the standard library.
"""

from __future__ import annotations


class TemplateError(Exception):
    """Base class of every templating error.

    ``expression`` is the template source that failed and ``line`` the 1-based line within it
    (``None`` when unknown).
    """

    def __init__(self, message: str, expression: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.line = line

    def __str__(self) -> str:
        return self.message


class TemplateSyntaxError(TemplateError):
    """The template cannot be parsed (reported at flow validation time)."""


class TemplateRenderError(TemplateError):
    """Rendering failed: bad operand, filter error, sandbox violation, a limit was exceeded."""


class UndefinedVariableError(TemplateRenderError):
    """A variable or attribute the template uses does not exist (Pebble's strict variables).

    ``name`` is the missing variable or attribute.
    """

    def __init__(
        self,
        message: str,
        expression: str | None = None,
        line: int | None = None,
        name: str | None = None,
    ):
        super().__init__(message, expression, line)
        self.name = name
