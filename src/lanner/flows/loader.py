"""Strict YAML loading: plain Python data plus the line and column of every node.

PyYAML composes the node graph (with libyaml's C parser when it is installed, the pure-Python
one otherwise); this module then turns nodes into values itself instead of using a PyYAML
constructor, because it must (1) reject duplicate keys, which PyYAML silently overwrites, (2)
remember a ``(line, column)`` mark for every path so each error points at the source, and (3)
type plain scalars the way Kestra's Jackson YAML mapper does, close to the YAML 1.2 core schema:
``true``/``false``, ``null``/``~``/empty, integers and floats are typed, while YAML 1.1 extras
(``yes``/``no``/``on``/``off``, dates, sexagesimal numbers) stay strings. Declared property types
coerce values later. Merge keys (``<<``) are not special, as in Jackson.

Imports PyYAML and the standard library only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

try:  # libyaml is an optional speed-up; both parsers give the same nodes and marks.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

Path = tuple[str | int, ...]
"""A location in a document: mapping keys and sequence indexes from the root."""

MAX_DEPTH = 200

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


def load_document(source: str) -> LoadedDocument:
    """Load one YAML document; syntax errors become a single problem at the root path."""
    loader = _CoreLoader(source)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        return LoadedDocument(None, {}, (YamlProblem((), f"Invalid YAML: {problem}", where),))
    except yaml.YAMLError as exc:
        return LoadedDocument(None, {}, (YamlProblem((), f"Invalid YAML: {exc}", None),))
    finally:
        loader.dispose()
    if node is None:
        return LoadedDocument(None, {}, ())
    builder = _Builder()
    data = builder.build(node, ())
    return LoadedDocument(data, builder.marks, tuple(builder.problems))


class _Builder:
    """Turns a composed node graph into plain values, recording marks and problems."""

    def __init__(self) -> None:
        self.marks: dict[Path, Mark] = {}
        self.problems: list[YamlProblem] = []

    def build(self, node: yaml.Node, path: Path) -> Any:
        mark = Mark(node.start_mark.line + 1, node.start_mark.column + 1)
        self.marks[path] = mark
        if len(path) > MAX_DEPTH:
            self.problems.append(YamlProblem(path, "document nested too deeply", mark))
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
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
