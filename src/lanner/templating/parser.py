"""Pebble's expression syntax on top of Jinja's lexer and parser.

Jinja's extension API adds tags, not operators, so this module replaces two layers:

- the lexer's operator rule, to know ``???``, ``??``, ``?`` and ``..`` (and to drop Python's
  ``**`` and ``//``), and its string rule (Pebble only unescapes quotes: ``'\\d'`` stays a
  regular-expression backslash);
- the expression parser, an operator-precedence parser with Pebble's table (``or`` 10,
  ``and`` 15, ``is``/``contains`` 20, comparisons 30, ``+ -`` 40, ``* / %`` 60, ``|`` 100,
  ``~`` 110, ``..``/``??``/``???`` 120, unary ``not + -`` 500, ternary ``? :`` lowest), which
  emits Jinja's AST plus the nodes of ``compiler.py``.

Statements keep Jinja's parser except ``if`` (``elseif``, Pebble truthiness), ``for`` (maps
iterate as entries) and the loaders (``extends``/``include``/``import``/``from``), refused
because a template must not reach other files. Imports only jinja2 and this package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

from jinja2 import nodes
from jinja2.environment import Environment
from jinja2.lexer import Lexer, Token, describe_token, operator_re, operators
from jinja2.parser import Parser

from .compiler import (
    Attempt,
    Coalesce,
    Entries,
    FunctionCall,
    Logic,
    Op,
    Ternary,
    Truth,
    UnaryOp,
)

_PEBBLE_TOKENS = {"???": "undefcoalesce", "??": "nullcoalesce", "?": "question", "..": "range"}
_OPERATORS = sorted(
    [op for op in operators if op not in ("**", "//")] + list(_PEBBLE_TOKENS),
    key=len,
    reverse=True,
)
_OPERATOR_RE = re.compile("|".join(re.escape(op) for op in _OPERATORS))

# token key -> (precedence, operation)
_BINARY: dict[str, tuple[int, str]] = {
    "name:or": (10, "or"),
    "name:and": (15, "and"),
    "name:is": (20, "is"),
    "name:contains": (20, "contains"),
    "eq": (30, "eq"),
    "name:equals": (30, "eq"),
    "ne": (30, "ne"),
    "gt": (30, "gt"),
    "lt": (30, "lt"),
    "gteq": (30, "ge"),
    "lteq": (30, "le"),
    "add": (40, "add"),
    "sub": (40, "sub"),
    "mul": (60, "mul"),
    "div": (60, "div"),
    "mod": (60, "mod"),
    "pipe": (100, "filter"),
    "tilde": (110, "concat"),
    "range": (120, "range_"),
    "nullcoalesce": (120, "??"),
    "undefcoalesce": (120, "???"),
}
_UNARY_PRECEDENCE = 500
_CR = "\x1e"  # stands for "\r" inside Jinja's lexer (see PebbleLexer.tokeniter)
# names Jinja's compiler treats specially; Pebble has no such variables
_JINJA_SPECIAL = frozenset({"self", "caller", "varargs", "kwargs"})
_CONSTANTS = {"true": True, "TRUE": True, "false": False, "FALSE": False}
_NULLS = {"null", "NULL", "none", "NONE"}


def _unescape(literal: str) -> str:
    quote = literal[0]
    return literal[1:-1].replace("\\" + quote, quote)


class PebbleLexer(Lexer):
    """Jinja's lexer with Pebble's operators and string escapes."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        for state, rules in self.rules.items():
            self.rules[state] = [
                rule._replace(pattern=_OPERATOR_RE) if rule.pattern is operator_re else rule
                for rule in rules
            ]

    def tokeniter(
        self,
        source: str,
        name: str | None,
        filename: str | None = None,
        state: str | None = None,
    ) -> Iterator[tuple[int, str, str]]:
        # Jinja turns every "\r\n" and "\r" into "\n"; Pebble keeps them (Kestra's indent
        # filter relies on it). A carriage return travels through Jinja's lexer as a
        # whitespace character it does not count as a newline, and is restored in wrap().
        return super().tokeniter(source.replace("\r", _CR), name, filename, state)

    def _normalize_newlines(self, value: str) -> str:
        return value.replace(_CR, "\r")

    def wrap(
        self,
        stream: Iterable[tuple[int, str, str]],
        name: str | None = None,
        filename: str | None = None,
    ) -> Iterator[Token]:
        for lineno, kind, value in stream:
            if kind == "operator" and value in _PEBBLE_TOKENS:
                yield Token(lineno, _PEBBLE_TOKENS[value], value)
            elif kind == "string":
                yield Token(lineno, "string", self._normalize_newlines(_unescape(value)))
            else:
                yield from super().wrap([(lineno, kind, value)], name, filename)


class PebbleParser(Parser):
    """Jinja's parser with Pebble's expression grammar."""

    def parse_expression(self, with_condexpr: bool = True) -> nodes.Expr:
        return self._expression(0)

    def parse_if(self) -> nodes.If:
        node = result = nodes.If(lineno=self.stream.expect("name:if").lineno)
        while True:
            node.test = Truth(self._expression(0), lineno=node.lineno)
            node.body = self.parse_statements(
                ("name:elseif", "name:elif", "name:else", "name:endif")
            )
            node.elif_ = []
            node.else_ = []
            token = next(self.stream)
            if token.test_any("name:elseif", "name:elif"):
                node = nodes.If(lineno=self.stream.current.lineno)
                result.elif_.append(node)
                continue
            if token.test("name:else"):
                result.else_ = self.parse_statements(("name:endif",), drop_needle=True)
            return result

    def parse_for(self) -> nodes.For:
        lineno = self.stream.expect("name:for").lineno
        target = self.parse_assign_target(extra_end_rules=("name:in",))
        self.stream.expect("name:in")
        iterable = Entries(self._expression(0), lineno=lineno)
        body = self.parse_statements(("name:endfor", "name:else"))
        if next(self.stream).value == "endfor":
            else_: list[nodes.Node] = []
        else:
            else_ = self.parse_statements(("name:endfor",), drop_needle=True)
        return nodes.For(target, iterable, body, else_, None, False, lineno=lineno)

    def _refuse(self) -> NoReturn:
        token = self.stream.current
        self.fail(f"the '{token.value}' tag is not allowed in expressions", token.lineno)

    def parse_extends(self) -> NoReturn:
        self._refuse()

    def parse_include(self) -> NoReturn:
        self._refuse()

    def parse_import(self) -> NoReturn:
        self._refuse()

    def parse_from(self) -> NoReturn:
        self._refuse()

    # -- expressions -------------------------------------------------------------------------

    def _binary(self, token: Token) -> tuple[int, str] | None:
        key = f"name:{token.value}" if token.type == "name" else token.type
        return _BINARY.get(key)

    def _expression(self, min_precedence: int) -> nodes.Expr:
        lineno = self.stream.current.lineno
        node = self._operand()
        while True:
            info = self._binary(self.stream.current)
            if info is None or info[0] < min_precedence:
                break
            precedence, operation = info
            next(self.stream)
            if operation == "filter":
                node = self._filter(node)
            elif operation == "is":
                node = self._test(node)
            else:
                right = self._expression(precedence + 1)
                node = self._combine(operation, node, right, lineno)
        if min_precedence == 0 and self.stream.skip_if("question"):
            if_true = self._expression(0)
            self.stream.expect("colon")
            if_false = self._expression(0)
            node = Ternary(node, if_true, if_false, lineno=lineno)
        return node

    @staticmethod
    def _combine(operation: str, left: nodes.Expr, right: nodes.Expr, lineno: int) -> nodes.Expr:
        if operation in ("and", "or"):
            return Logic(operation, left, right, lineno=lineno)
        if operation in ("??", "???"):
            return Coalesce(left, right, operation == "???", lineno=lineno)
        if operation == "range_":
            return FunctionCall("range", [left, right], [], lineno=lineno)
        return Op(operation, left, right, lineno=lineno)

    def _operand(self) -> nodes.Expr:
        token = self.stream.current
        if token.test("name:not") or token.type in ("sub", "add"):
            next(self.stream)
            operand = self._expression(_UNARY_PRECEDENCE)
            if token.type == "sub" and isinstance(operand, nodes.Const):
                if isinstance(operand.value, int | float) and not isinstance(operand.value, bool):
                    return nodes.Const(-operand.value, lineno=token.lineno)
            operation = {"sub": "neg", "add": "pos"}.get(token.type, "not_")
            return UnaryOp(operation, operand, lineno=token.lineno)
        if token.type == "lparen":
            next(self.stream)
            node = self._expression(0)
            self.stream.expect("rparen")
            return self._postfix(node)
        if token.type == "lbracket":
            return self._postfix(self._list())
        if token.type == "lbrace":
            return self._postfix(self._map())
        return self._postfix(self._primary())

    def _primary(self) -> nodes.Expr:
        token = next(self.stream)
        if token.type == "name":
            if token.value in _CONSTANTS:
                return nodes.Const(_CONSTANTS[token.value], lineno=token.lineno)
            if token.value in _NULLS:
                return nodes.Const(None, lineno=token.lineno)
            if self.stream.current.type == "lparen":
                args, kwargs = self._arguments()
                if token.value in self.environment.functions:  # type: ignore[attr-defined]
                    return FunctionCall(token.value, args, kwargs, lineno=token.lineno)
                callee = nodes.Name(token.value, "load", lineno=token.lineno)
                return nodes.Call(callee, args, kwargs, None, None, lineno=token.lineno)
            if token.value in _JINJA_SPECIAL:
                context = nodes.ContextReference(lineno=token.lineno)
                return nodes.Getitem(context, nodes.Const(token.value), "load")
            return nodes.Name(token.value, "load", lineno=token.lineno)
        if token.type in ("string", "integer", "float"):
            return nodes.Const(token.value, lineno=token.lineno)
        self.fail(f"unexpected {describe_token(token)!r}", token.lineno)

    def _postfix(self, node: nodes.Expr) -> nodes.Expr:
        while True:
            token = self.stream.current
            if token.type == "dot":
                next(self.stream)
                attribute = next(self.stream)
                if attribute.type == "integer":
                    node = nodes.Getitem(node, nodes.Const(attribute.value), "load")
                elif attribute.type == "name":
                    if self.stream.current.type == "lparen":
                        self.fail(f"method calls are not supported: {attribute.value}()")
                    node = nodes.Getattr(node, attribute.value, "load", lineno=token.lineno)
                else:
                    self.fail(f"unexpected {describe_token(attribute)!r} after '.'", token.lineno)
            elif token.type == "lbracket":
                next(self.stream)
                key = self._expression(0)
                self.stream.expect("rbracket")
                node = nodes.Getitem(node, key, "load", lineno=token.lineno)
            else:
                return node

    def _list(self) -> nodes.Expr:
        lineno = self.stream.expect("lbracket").lineno
        items: list[nodes.Expr] = []
        while self.stream.current.type != "rbracket":
            if items:
                self.stream.expect("comma")
            items.append(self._expression(0))
        self.stream.expect("rbracket")
        return nodes.List(items, lineno=lineno)

    def _map(self) -> nodes.Expr:
        lineno = self.stream.expect("lbrace").lineno
        pairs: list[nodes.Pair] = []
        while self.stream.current.type != "rbrace":
            if pairs:
                self.stream.expect("comma")
            key = self._expression(0)
            self.stream.expect("colon")
            pairs.append(nodes.Pair(key, self._expression(0), lineno=lineno))
        self.stream.expect("rbrace")
        return nodes.Dict(pairs, lineno=lineno)

    def _arguments(self) -> tuple[list[nodes.Expr], list[nodes.Keyword]]:
        self.stream.expect("lparen")
        args: list[nodes.Expr] = []
        kwargs: list[nodes.Keyword] = []
        while self.stream.current.type != "rparen":
            if args or kwargs:
                self.stream.expect("comma")
            token = self.stream.current
            if token.type == "name" and self.stream.look().type == "assign":
                self.stream.skip(2)
                kwargs.append(nodes.Keyword(token.value, self._expression(0)))
            elif kwargs:
                self.fail("positional argument after a named argument", token.lineno)
            else:
                args.append(self._expression(0))
        self.stream.expect("rparen")
        return args, kwargs

    def _filter(self, node: nodes.Expr) -> nodes.Expr:
        token = self.stream.expect("name")
        if token.value not in self.environment.filters:
            self.fail(f"Filter [{token.value}] does not exist.", token.lineno)
        args, kwargs = ([], []) if self.stream.current.type != "lparen" else self._arguments()
        if token.value == "default":
            node = Attempt(node, lineno=token.lineno)
        return nodes.Filter(node, token.value, args, kwargs, None, None, lineno=token.lineno)

    def _test(self, node: nodes.Expr) -> nodes.Expr:
        negated = self.stream.skip_if("name:not")
        token = self.stream.expect("name")
        if token.value not in self.environment.tests:
            self.fail(f"Test [{token.value}] does not exist.", token.lineno)
        args: list[Any] = []
        kwargs: list[Any] = []
        if self.stream.current.type == "lparen":
            args, kwargs = self._arguments()
        if token.value == "defined":
            node = Attempt(node, lineno=token.lineno)
        test: nodes.Expr = nodes.Test(node, token.value, args, kwargs, None, None)
        return nodes.Not(test, lineno=token.lineno) if negated else test
