"""No import cycle inside ``src/lanner/``: the floors of ``test_layers`` hold within a package too.

The rule: module A depends on module B when A's module-level code names B in an import, so
importing (or type-checking) A needs B first. Counted: ``import`` and ``from … import``
statements at module level (relative ones resolved), in class bodies, under ``if``/``try``/
``with`` at that level, and under ``if TYPE_CHECKING:`` too (a circle of types is a circle of
design). Not counted: imports inside functions, which run at call time. ``from pkg import
name`` depends on the module ``pkg.name`` when there is one, else on ``pkg``. Every strongly
connected set of two or more modules (or a module importing itself) fails the test: break it
by moving the shared piece down a floor, or by handing the upper piece in as an argument.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "lanner"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def module_level_imports(nodes: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements of the module's own body (and its class bodies), not its functions'."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            yield from module_level_imports(node.body)
            yield from module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from module_level_imports(block)
            for handler in node.handlers:
                yield from module_level_imports(handler.body)
        elif isinstance(node, ast.ClassDef | ast.With):
            yield from module_level_imports(node.body)


def dependencies(name: str, path: Path) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in module_level_imports(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        if node.level:
            parts = package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            origin = ".".join([*parts, node.module] if node.module else parts)
        else:
            origin = node.module or ""
        for alias in node.names:
            submodule = f"{origin}.{alias.name}"
            found.add(submodule if submodule in MODULES else origin)
    return {dep for dep in found if dep in MODULES}


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; components in no particular order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    return [
        c for c in strongly_connected(graph) if len(c) > 1 or next(iter(c)) in graph[next(iter(c))]
    ]


GRAPH = {name: dependencies(name, path) for name, path in MODULES.items()}


def test_no_import_cycle_inside_lanner() -> None:
    found = [sorted(c) for c in cycles(GRAPH)]
    assert found == [], f"import cycles: {found}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert sorted(sorted(c) for c in cycles(graph)) == [["a", "b", "c"], ["e"]]


def test_relative_imports_resolve_and_function_imports_do_not_count() -> None:
    assert "lanner.templating.errors" in GRAPH["lanner.templating.sandbox"]  # from .errors
    assert "lanner.templating.settings" in GRAPH["lanner.templating.dates"]  # TYPE_CHECKING
    assert "lanner.store.protocols.flows" in GRAPH["lanner.store"]
    assert "lanner.store.sqlalchemy.store" not in GRAPH["lanner.store"]  # function-level
