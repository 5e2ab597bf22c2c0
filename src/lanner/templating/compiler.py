"""Jinja AST nodes for Pebble's semantics, and the code generator that compiles them.

The parser (``parser.py``) builds Jinja's AST; where Pebble's meaning differs from Python's
(arithmetic, ``==``, ``contains``, ``..``, ``??``, ``is defined``, truthiness, function calls)
it uses the nodes below, which compile to calls into ``environment.pebble`` (``operators.py``).
Operands that may be undefined are wrapped in ``lambda:`` so the helper can catch the error:
this is why rendering is synchronous (an ``await`` cannot live inside a lambda).

Jinja 3.1 refuses new node classes (``NodeType.__new__`` is replaced by a function that
raises) because its stock compiler would not know them. This code generator does know them, so
the nodes are created through :class:`_PebbleNodeType`, which repeats ``NodeType``'s field
inheritance; the unit tests pin that this keeps working with the installed Jinja.

Imports only jinja2 and this package.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame


class _PebbleNodeType(nodes.NodeType):
    """``NodeType`` with its original ``__new__`` (field and attribute inheritance)."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        for attr in ("fields", "attributes"):
            inherited = getattr(bases[0], attr, ()) if bases else ()
            namespace[attr] = (*inherited, *namespace.get(attr, ()))
        namespace.setdefault("abstract", False)
        return type.__new__(mcs, name, bases, namespace)


class Op(nodes.Expr, metaclass=_PebbleNodeType):
    """Binary operator: ``environment.pebble.<op>(left, right)``."""

    fields = ("op", "left", "right")
    op: str
    left: nodes.Expr
    right: nodes.Expr


class UnaryOp(nodes.Expr, metaclass=_PebbleNodeType):
    """Unary operator: ``environment.pebble.<op>(node)``."""

    fields = ("op", "node")
    op: str
    node: nodes.Expr


class Logic(nodes.Expr, metaclass=_PebbleNodeType):
    """``and``/``or`` with Pebble truthiness, short-circuiting."""

    fields = ("op", "left", "right")
    op: str
    left: nodes.Expr
    right: nodes.Expr


class Ternary(nodes.Expr, metaclass=_PebbleNodeType):
    """``test ? expr1 : expr2`` (a ``null`` test is false)."""

    fields = ("test", "expr1", "expr2")
    test: nodes.Expr
    expr1: nodes.Expr
    expr2: nodes.Expr


class Attempt(nodes.Expr, metaclass=_PebbleNodeType):
    """The value of ``node``, or ``null`` when it is undefined."""

    fields = ("node",)
    node: nodes.Expr


class Coalesce(nodes.Expr, metaclass=_PebbleNodeType):
    """``left ?? right`` (``undefined_only``: ``???``)."""

    fields = ("left", "right", "undefined_only")
    left: nodes.Expr
    right: nodes.Expr
    undefined_only: bool


class Truth(nodes.Expr, metaclass=_PebbleNodeType):
    """Pebble truthiness of an ``if`` condition."""

    fields = ("node",)
    node: nodes.Expr


class Entries(nodes.Expr, metaclass=_PebbleNodeType):
    """What a ``for`` iterates (maps as entries), counted against the loop budget."""

    fields = ("node",)
    node: nodes.Expr


class FunctionCall(nodes.Expr, metaclass=_PebbleNodeType):
    """A registered function, called with the render context first."""

    fields = ("name", "args", "kwargs")
    name: str
    args: list[nodes.Expr]
    kwargs: list[nodes.Keyword]


class RawOutput(nodes.Stmt, metaclass=_PebbleNodeType):
    """Yields the value itself, not its text: typed rendering of ``{{ expr }}``."""

    fields = ("node",)
    node: nodes.Expr


class PebbleCodeGenerator(CodeGenerator):
    """Jinja's code generator taught the nodes above."""

    def _call(self, head: str, operands: list[Any], frame: Frame) -> None:
        self.write(head + "(")
        for index, operand in enumerate(operands):
            if index:
                self.write(", ")
            self.visit(operand, frame)
        self.write(")")

    def visit_Op(self, node: Op, frame: Frame) -> None:
        self._call(f"environment.pebble.{node.op}", [node.left, node.right], frame)

    def visit_UnaryOp(self, node: UnaryOp, frame: Frame) -> None:
        self._call(f"environment.pebble.{node.op}", [node.node], frame)

    def visit_Truth(self, node: Truth, frame: Frame) -> None:
        self._call("environment.pebble.truth", [node.node], frame)

    def visit_Logic(self, node: Logic, frame: Frame) -> None:
        self.write("(")
        self._call("environment.pebble.truth", [node.left], frame)
        self.write(f" {node.op} ")
        self._call("environment.pebble.truth", [node.right], frame)
        self.write(")")

    def visit_Ternary(self, node: Ternary, frame: Frame) -> None:
        self.write("(")
        self.visit(node.expr1, frame)
        self.write(" if ")
        self._call("environment.pebble.ternary_truth", [node.test], frame)
        self.write(" else ")
        self.visit(node.expr2, frame)
        self.write(")")

    def visit_Attempt(self, node: Attempt, frame: Frame) -> None:
        self.write("environment.pebble.attempt(lambda: ")
        self.visit(node.node, frame)
        self.write(")")

    def visit_Coalesce(self, node: Coalesce, frame: Frame) -> None:
        self.write("environment.pebble.coalesce(lambda: ")
        self.visit(node.left, frame)
        self.write(", lambda: ")
        self.visit(node.right, frame)
        self.write(f", {bool(node.undefined_only)!r})")

    def visit_Entries(self, node: Entries, frame: Frame) -> None:
        self.write("environment.iterate(context, ")
        self.visit(node.node, frame)
        self.write(")")

    def visit_FunctionCall(self, node: FunctionCall, frame: Frame) -> None:
        self.write(f"environment.functions[{node.name!r}](context")
        for arg in node.args:
            self.write(", ")
            self.visit(arg, frame)
        for keyword in node.kwargs:
            self.write(f", {keyword.key}=")
            self.visit(keyword.value, frame)
        self.write(")")

    def visit_RawOutput(self, node: RawOutput, frame: Frame) -> None:
        self.writeline("yield ")
        self.visit(node.node, frame)
