"""Strict YAML loading: plain Python data plus the line and column of every node.

PyYAML composes the node graph (with libyaml's C parser when it is installed, the pure-Python
one otherwise); this module then turns nodes into values itself instead of using a PyYAML
constructor, because it must (1) reject duplicate keys, which PyYAML silently overwrites, (2)
remember a ``(line, column)`` mark for every path so each error points at the source, and (3)
type plain scalars the way Kestra's Jackson YAML mapper does, close to the YAML 1.2 core schema:
``true``/``false``, ``null``/``~``/empty, integers and floats are typed, while YAML 1.1 extras
(``yes``/``no``/``on``/``off``, dates, sexagesimal numbers) stay strings. Declared property types
coerce values later. Merge keys (``<<``) are not special, as in Jackson.

Every load is bounded (:class:`YamlLimits`, SnakeYAML's limits as Kestra's parser has them, plus
a node budget): the document's size is checked before parsing, and the node graph is composed
here from the parser's events, without recursion, counting nesting depth, aliases to collections
and nodes as it goes; the values are then built counting every node an alias expands to. A limit
crossed stops the load at once with the limit's name and the line:column where it was crossed, so
memory and time stay proportional to the limits, never to what aliases would expand to.
:func:`safe_load` is ``yaml.safe_load`` (YAML 1.1 types) under the same limits, for the template
function ``fromYaml`` and YAML inputs.

Imports PyYAML, ``lanner.errors`` and the standard library only.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any

import yaml

from lanner.errors import DeadlineExceededError, ValidationError

try:  # libyaml is an optional speed-up; both parsers give the same events and marks.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

Path = tuple[str | int, ...]
"""A location in a document: mapping keys and sequence indexes from the root."""

DEFAULT_MAX_ALIASES = 50
DEFAULT_MAX_DEPTH = 100
DEFAULT_MAX_NODES = 100_000
DEFAULT_MAX_CHARS = 3 * 1024 * 1024
# What a setting may be raised to: deeper documents break JSON encoding (orjson stops at 255
# levels) and recursion in the code that reads flows.
CEILING_MAX_DEPTH = 200
_DEADLINE_EVERY = 1024  # events or nodes between two looks at the clock

_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"

_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class _CoreLoader(_BaseLoader):
    """A safe loader whose implicit resolvers follow the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level table


_CoreLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreLoader.add_implicit_resolver(
    _NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_CoreLoader.add_implicit_resolver(_INT, _INT_RE, list("-+0123456789"))
_CoreLoader.add_implicit_resolver(_FLOAT, _FLOAT_RE, list("-+0123456789."))


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based line and column in the source."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class YamlProblem:
    """A problem found while loading, located by path and mark."""

    path: Path
    message: str
    mark: Mark | None


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """Bounds of one load; ``deadline`` is a ``time.monotonic()`` instant past which it stops."""

    max_aliases: int = DEFAULT_MAX_ALIASES
    """Aliases to a mapping or a sequence, per document (SnakeYAML's maxAliasesForCollections)."""
    max_depth: int = DEFAULT_MAX_DEPTH
    """Nested mappings and sequences, aliases expanded (SnakeYAML's nestingDepthLimit)."""
    max_nodes: int = DEFAULT_MAX_NODES
    """Nodes composed, and values built once aliases are expanded."""
    max_chars: int = DEFAULT_MAX_CHARS
    """Characters (code points) of the document (SnakeYAML's codePointLimit)."""
    deadline: float | None = None

    def until(self, seconds: float) -> YamlLimits:
        """These limits, with a deadline ``seconds`` from now."""
        return YamlLimits(
            self.max_aliases,
            self.max_depth,
            self.max_nodes,
            self.max_chars,
            time.monotonic() + seconds,
        )


DEFAULT_LIMITS = YamlLimits()
# Sources this server already accepted (stored revisions) were bounded when they were saved
# under the limits configured then; they are read again under the ceilings settings may reach.
STORED_LIMITS = YamlLimits(max_aliases=100_000, max_depth=CEILING_MAX_DEPTH, max_nodes=10**7,
                           max_chars=256 * 1024 * 1024)  # fmt: skip


class YamlLimitError(ValidationError):
    """A document crossed one of its :class:`YamlLimits`; ``setting`` names the limit."""

    def __init__(self, problem: str, setting: str, mark: Mark | None) -> None:
        self.problem = f"Invalid YAML: {problem} (limit {setting})"
        where = f" (line {mark.line}, column {mark.column})" if mark else ""
        super().__init__(f"{self.problem}{where}")
        self.setting = setting
        self.mark = mark


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """One YAML document as plain data, with the mark of every path and the problems found."""

    data: Any
    marks: dict[Path, Mark]
    problems: tuple[YamlProblem, ...]

    def mark_of(self, path: Path) -> Mark | None:
        """The mark of ``path`` or of its closest ancestor that has one."""
        while True:
            mark = self.marks.get(path)
            if mark is not None or not path:
                return mark
            path = path[:-1]


def format_path(path: Path) -> str:
    """Render a path the way Kestra's validation messages do: ``tasks[1].then[0].type``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def load_document(source: str, limits: YamlLimits = DEFAULT_LIMITS) -> LoadedDocument:
    """Load one YAML document; a syntax error or a crossed limit becomes a problem at the root."""
    try:
        node = compose(source, limits, _CoreLoader)
    except YamlLimitError as exc:
        return LoadedDocument(None, {}, (YamlProblem((), exc.problem, exc.mark),))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        return LoadedDocument(None, {}, (YamlProblem((), f"Invalid YAML: {problem}", where),))
    except yaml.YAMLError as exc:
        return LoadedDocument(None, {}, (YamlProblem((), f"Invalid YAML: {exc}", None),))
    if node is None:
        return LoadedDocument(None, {}, ())
    builder = _Builder(limits)
    try:
        data = builder.build(node, ())
    except YamlLimitError as exc:
        return LoadedDocument(None, {}, (YamlProblem((), exc.problem, exc.mark),))
    return LoadedDocument(data, builder.marks, tuple(builder.problems))


def safe_load(text: str, limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    """``yaml.safe_load`` (YAML 1.1 types, aliases shared) within ``limits``.

    Raises :class:`YamlLimitError` for a crossed limit and ``yaml.YAMLError`` for bad YAML.
    """
    loader = yaml.SafeLoader("")
    try:
        node = compose(text, limits, _BaseLoader)  # YAML 1.1 resolvers, libyaml's events
        if node is None:
            return None
        _check_expansion(node, limits)
        try:
            return loader.construct_document(node)
        except (AttributeError, TypeError, ValueError, OverflowError, KeyError, IndexError) as exc:
            # PyYAML's constructors assume well-formed explicit tags (``!!timestamp id``)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot construct a value: {exc}", node.start_mark
            ) from None
    finally:
        loader.dispose()


def _mark(mark: Any) -> Mark:
    return Mark(mark.line + 1, mark.column + 1)


def _mark_at(source: str, index: int) -> Mark:
    line_start = source.rfind("\n", 0, index) + 1
    return Mark(source.count("\n", 0, index) + 1, index - line_start + 1)


def _check_deadline(limits: YamlLimits) -> None:
    if limits.deadline is not None and time.monotonic() > limits.deadline:
        raise DeadlineExceededError("Service Unavailable: reading the YAML document took too long")


def _limit(kind: str, limits: YamlLimits, mark: Mark | None) -> YamlLimitError:
    if kind == "chars":
        text = f"the document is longer than {limits.max_chars} characters"
        return YamlLimitError(text, "yaml-max-chars", mark)
    if kind == "aliases":
        text = f"the document has more than {limits.max_aliases} aliases to collections"
        return YamlLimitError(text, "yaml-max-aliases", mark)
    if kind == "depth":
        text = f"the document is nested deeper than {limits.max_depth} levels"
        return YamlLimitError(text, "yaml-max-depth", mark)
    text = f"the document has more than {limits.max_nodes} nodes (aliases expanded)"
    return YamlLimitError(text, "yaml-max-nodes", mark)


class _Open:
    """A collection being composed: its node and, in a mapping, the key waiting for a value."""

    __slots__ = ("anchor", "key", "node")

    def __init__(self, node: yaml.CollectionNode, anchor: str | None) -> None:
        self.node = node
        self.anchor = anchor
        self.key: yaml.Node | None = None


def compose(source: str, limits: YamlLimits, loader_class: type[Any]) -> yaml.Node | None:
    """The node graph of the single document of ``source``, composed from parser events.

    Unlike PyYAML's recursive composer (libyaml's overflows the C stack on deep input), this
    loop keeps its own stack and stops at the first crossed limit; an alias is the anchored node
    itself, never a copy. Recursive aliases are refused.
    """
    if len(source) > limits.max_chars:
        raise _limit("chars", limits, _mark_at(source, limits.max_chars))
    loader = loader_class(source)
    try:
        return _compose(loader, limits)
    except UnicodeError as exc:  # lone surrogates cannot be handed to libyaml
        raise yaml.YAMLError(f"the document is not valid Unicode: {exc}") from None
    finally:
        loader.dispose()


def _compose(loader: Any, limits: YamlLimits) -> yaml.Node | None:
    loader.get_event()  # StreamStartEvent
    if loader.check_event(yaml.StreamEndEvent):
        loader.get_event()
        return None
    loader.get_event()  # DocumentStartEvent
    anchors: dict[str, yaml.Node] = {}
    open_anchors: set[str] = set()
    stack: list[_Open] = []
    root: yaml.Node | None = None
    nodes = aliases = 0
    while root is None:
        event = loader.get_event()
        start: Any = event.start_mark  # libyaml's marks are not PyYAML's Mark class
        end: Any = event.end_mark
        nodes += 1
        if nodes % _DEADLINE_EVERY == 0:
            _check_deadline(limits)
        if nodes > limits.max_nodes:
            raise _limit("nodes", limits, _mark(event.start_mark))
        node: yaml.Node
        if isinstance(event, yaml.AliasEvent):
            target = anchors.get(event.anchor or "")
            if target is None:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", start
                )
            if isinstance(target, yaml.CollectionNode):
                if event.anchor in open_anchors:
                    raise yaml.composer.ComposerError(
                        None, None, f"found recursive alias {event.anchor!r}", start
                    )
                aliases += 1
                if aliases > limits.max_aliases:
                    raise _limit("aliases", limits, _mark(event.start_mark))
            node = target
        elif isinstance(event, yaml.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            node = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
            _anchor(anchors, event, node)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            if len(stack) + 1 > limits.max_depth:
                raise _limit("depth", limits, _mark(event.start_mark))
            tag = event.tag
            is_sequence = isinstance(event, yaml.SequenceStartEvent)
            kind = yaml.SequenceNode if is_sequence else yaml.MappingNode
            if tag is None or tag == "!":
                tag = loader.resolve(kind, None, event.implicit)
            collection = kind(tag, [], start, None, flow_style=event.flow_style)
            _anchor(anchors, event, collection)
            if event.anchor is not None:
                open_anchors.add(event.anchor)
            stack.append(_Open(collection, event.anchor))
            continue
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            done = stack.pop()
            done.node.end_mark = end
            if done.anchor is not None:
                open_anchors.discard(done.anchor)
            node = done.node
        else:  # pragma: no cover - the parser yields nothing else inside a document
            raise yaml.composer.ComposerError(
                None, None, f"unexpected {type(event).__name__}", event.start_mark
            )
        if not stack:
            root = node
            break
        top = stack[-1]
        if isinstance(top.node, yaml.SequenceNode):
            top.node.value.append(node)
        elif top.key is None:
            top.key = node
        else:
            top.node.value.append((top.key, node))
            top.key = None
    loader.get_event()  # DocumentEndEvent
    if not loader.check_event(yaml.StreamEndEvent):
        event = loader.get_event()
        raise yaml.composer.ComposerError(
            "expected a single document in the stream",
            None,
            "but found another document",
            event.start_mark,
        )
    return root


def _anchor(anchors: dict[str, yaml.Node], event: Any, node: yaml.Node) -> None:
    if event.anchor is None:
        return
    if event.anchor in anchors:
        raise yaml.composer.ComposerError(
            f"found duplicate anchor {event.anchor!r}; first occurrence",
            anchors[event.anchor].start_mark,
            "second occurrence",
            event.start_mark,
        )
    anchors[event.anchor] = node


def _check_expansion(root: yaml.Node, limits: YamlLimits) -> None:
    """Refuse a graph whose values, aliases expanded, exceed the node or depth budget."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, expanded depth)
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:
        node, children_done = pending.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not children_done:
            pending.append((node, True))
            pending.extend((child, False) for child in children if id(child) not in sizes)
            continue
        count = 1 + sum(sizes[id(child)][0] for child in children)
        depth = (1 + max((sizes[id(c)][1] for c in children), default=0)) if children else 0
        if count > limits.max_nodes:
            raise _limit("nodes", limits, _mark(node.start_mark))
        if depth > limits.max_depth:
            raise _limit("depth", limits, _mark(node.start_mark))
        sizes[id(node)] = (count, depth)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Builder:
    """Turns a composed node graph into plain values, recording marks and problems."""

    def __init__(self, limits: YamlLimits) -> None:
        self.limits = limits
        self.built = 0
        self.marks: dict[Path, Mark] = {}
        self.problems: list[YamlProblem] = []

    def build(self, node: yaml.Node, path: Path) -> Any:
        mark = _mark(node.start_mark)
        self.built += 1
        if self.built > self.limits.max_nodes:
            raise _limit("nodes", self.limits, mark)
        if self.built % _DEADLINE_EVERY == 0:
            _check_deadline(self.limits)
        self.marks[path] = mark
        if isinstance(node, yaml.MappingNode):
            if len(path) >= self.limits.max_depth:
                raise _limit("depth", self.limits, mark)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if len(path) >= self.limits.max_depth:
                raise _limit("depth", self.limits, mark)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path, mark)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_mark = Mark(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(YamlProblem(path, "mapping keys must be scalars", key_mark))
                continue
            raw_key = self._scalar(key_node, path, key_mark)
            key = "null" if raw_key is None else _scalar_text(raw_key)
            if key in result:
                first = self.marks.get((*path, key))
                where = f" (first defined at line {first.line})" if first else ""
                self.problems.append(
                    YamlProblem((*path, key), f'Duplicate field "{key}"{where}', key_mark)
                )
                continue
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.Node, path: Path, mark: Mark) -> Any:
        value = str(node.value)
        tag = node.tag
        try:
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return value.lower() == "true"
            if tag == _INT:
                return _to_int(value)
            if tag == _FLOAT:
                return _to_float(value)
        except ValueError:
            self.problems.append(YamlProblem(path, f"Cannot read {value!r} as {tag}", mark))
            return value
        return value


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_int(text: str) -> int:
    text = text.replace("_", "")
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def _to_float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


_PATH_PART_RE = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")


def parse_path(text: str) -> Path:
    """The inverse of :func:`format_path` (keys holding dots or brackets are not recovered)."""
    return tuple(int(index) if index else key for index, key in _PATH_PART_RE.findall(text))
