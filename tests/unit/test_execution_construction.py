"""One door into the engine: ``Execution(...)`` is called only by ``lanner.engine.submit``.

Every new execution (API, subflows, triggers) is made by the ``Submitter``; a copy of an existing
one (``dataclasses.replace``: replay, a ``CREATE_NEW_EXECUTION`` retry) is not a construction.
The store rebuilds stored rows into ``Execution`` values: that is reading, not creating, so
``lanner/store/`` may call it too.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "lanner"
DOOR = SRC / "engine" / "submit.py"
READERS = SRC / "store"


def construction_lines(path: Path) -> list[int]:
    """Lines of ``path`` that call ``Execution(...)`` (by name or as ``module.Execution``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name == "Execution":
            lines.append(node.lineno)
    return lines


def test_the_checker_sees_a_construction(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from lanner.domain import executions\n"
        "a = Execution(id='x')\n"
        "b = executions.Execution(id='y')\n"
        "c = replace(a, id='z')\n"
        "d = LiveExecution('w')\n",
        encoding="utf-8",
    )
    assert construction_lines(sample) == [2, 3]


def test_only_submit_constructs_executions() -> None:
    offenders = {
        str(path.relative_to(SRC)): lines
        for path in sorted(SRC.rglob("*.py"))
        if path != DOOR and READERS not in path.parents
        for lines in [construction_lines(path)]
        if lines
    }
    assert offenders == {}, f"Execution(...) outside lanner.engine.submit: {offenders}"


def test_the_door_is_where_executions_are_made() -> None:
    assert construction_lines(DOOR), "lanner.engine.submit no longer constructs an Execution"
