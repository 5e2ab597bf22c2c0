"""The executor's view of an execution's task runs: an index by id, by parent and by position.

A :class:`RunIndex` answers "which run holds task ``t`` under parent ``p`` for iteration ``i``"
in constant time, so a decision touches only the runs it needs. The executor loop keeps one index
per live execution and :func:`lanner.engine.executor.decide` updates it in place with the runs it
writes, so a ForEach over 10,000 values never rebuilds it. Imports only the domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lanner.domain.executions import TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.states import StateType

S = StateType

STALE = "stale"
"""``internal`` flag of a run superseded by a restart: treated as absent until reached again."""

_SEVERITY = {S.KILLED: 4, S.FAILED: 3, S.CANCELLED: 3, S.RETRIED: 3, S.WARNING: 2, S.PAUSED: 1}


def merge_states(states: Iterable[StateType]) -> StateType:
    """The state of a group of finished runs, Kestra's order: KILLED, FAILED, WARNING, SUCCESS.

    SKIPPED and SUCCESS count as SUCCESS; CANCELLED and RETRIED (retried as a new execution)
    count as FAILED.
    """
    worst, rank = S.SUCCESS, 0
    for state in states:
        level = _SEVERITY.get(state, 0)
        if level > rank:
            worst, rank = state, level
    return S.FAILED if worst in (S.CANCELLED, S.RETRIED) else worst


def is_stale(run: TaskRun) -> bool:
    return bool(run.internal.get(STALE))


@dataclass(slots=True)
class LoopCursor:
    """A loop's progress (a cache, rebuilt by a full scan when missing): iterations are started
    in order; ``open`` ones still run; ``done`` holds the states of the finished ones."""

    started: int = 0
    open: set[int] = field(default_factory=set)
    done: list[StateType] = field(default_factory=list)


SequenceKey = tuple[str | None, str, int | None]
"""A sequence's place: parent run id (None at the root), branch, the parent's iteration."""


@dataclass(slots=True)
class SequenceCursor:
    """A sequence's finished prefix (a cache, dropped when one of its runs changes): the first
    ``position`` tasks of ``enabled`` ended without stopping it, ``worst`` merges their states,
    ``run_ids`` are their runs. ``specs`` is the branch it was built for (checked by identity)."""

    specs: Sequence[TaskSpec]
    enabled: tuple[TaskSpec, ...]
    position: int = 0
    worst: StateType = S.SUCCESS
    run_ids: list[str] = field(default_factory=list)


class RunIndex:
    """Task runs of one execution, indexed for the executor. Mutated only through :meth:`put`."""

    __slots__ = (
        "_by_id",
        "_by_position",
        "_covered",
        "_loop_ids",
        "_order",
        "_sequences",
        "_trees",
        "cursors",
    )

    def __init__(self, runs: Iterable[TaskRun] = ()) -> None:
        self._by_id: dict[str, TaskRun] = {}
        self._by_position: dict[tuple[str | None, str, int | None], str] = {}
        self._order: list[str] = []
        self.cursors: dict[str, LoopCursor] = {}
        self._trees: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._loop_ids: frozenset[str] = frozenset()
        self._sequences: dict[SequenceKey, SequenceCursor] = {}
        self._covered: dict[str, SequenceKey] = {}
        for run in runs:
            self.put(run)

    def put(self, run: TaskRun) -> None:
        """Add or replace a run (same id)."""
        previous = self._by_id.get(run.id)
        if previous is None:
            self._order.append(run.id)
        elif run.id in self._covered:  # a finished prefix changed (restart, state override)
            self._drop_sequence(self._covered[run.id])
        self._by_id[run.id] = run
        self._by_position[(run.parent_task_run_id, run.task_id, run.iteration)] = run.id
        if self._trees is not None:
            self._index_tree(run)

    # -- sequence cursors: where each sequential list goes on, so a step does not rescan it ----

    def sequence(self, key: SequenceKey, specs: Sequence[TaskSpec]) -> SequenceCursor:
        """The cursor of the sequence at ``key`` over ``specs`` (a fresh one when missing)."""
        cursor = self._sequences.get(key)
        if cursor is None or cursor.specs is not specs:
            if cursor is not None:
                self._drop_sequence(key)
            enabled = tuple(spec for spec in specs if not spec.is_disabled)
            cursor = self._sequences[key] = SequenceCursor(specs, enabled)
        return cursor

    def cover(self, key: SequenceKey, cursor: SequenceCursor, run: TaskRun) -> None:
        """Move ``cursor`` past ``run``, which ended without stopping its sequence."""
        cursor.position += 1
        cursor.worst = merge_states((cursor.worst, run.state.current))
        cursor.run_ids.append(run.id)
        self._covered[run.id] = key

    def _drop_sequence(self, key: SequenceKey) -> None:
        cursor = self._sequences.pop(key, None)
        if cursor is not None:
            for run_id in cursor.run_ids:
                self._covered.pop(run_id, None)

    # -- outputs and states of the run context, kept up to date once built -------------------

    def context_trees(self, loop_ids: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``outputs`` and ``tasks`` (states) of the run context, nested by loop values
        (``loop_ids``: the task ids of loops). Built once, then updated by :meth:`put`."""
        if self._trees is None or loop_ids != self._loop_ids:
            self._loop_ids = loop_ids
            self._trees = ({}, {})
            for run in self:
                self._index_tree(run)
        return self._trees

    def loop_path(self, run: TaskRun) -> list[str]:
        """The values of the loop iterations around ``run`` (itself included), outermost first."""
        values: list[str] = []
        current: TaskRun | None = run
        while current is not None and current.parent_task_run_id is not None:
            parent = self._by_id.get(current.parent_task_run_id)
            if (
                parent is not None
                and parent.task_id in self._loop_ids
                and current.value is not None
            ):
                values.append(current.value)
            current = parent
        values.reverse()
        return values

    def _index_tree(self, run: TaskRun) -> None:
        assert self._trees is not None
        outputs, states = self._trees
        path = self.loop_path(run) if run.value is not None else []
        if is_stale(run):
            _unset(states, run.task_id, path)
            _unset(outputs, run.task_id, path)
            return
        _set(states, run.task_id, path, {"state": run.state.current.value})
        if run.outputs is not None:
            _set(outputs, run.task_id, path, dict(run.outputs))
        else:
            _unset(outputs, run.task_id, path)

    def get(self, run_id: str) -> TaskRun | None:
        return self._by_id.get(run_id)

    def find(self, parent_id: str | None, task_id: str, iteration: int | None) -> TaskRun | None:
        """The run of ``task_id`` directly under ``parent_id`` for ``iteration`` (stale included)."""
        run_id = self._by_position.get((parent_id, task_id, iteration))
        return self._by_id[run_id] if run_id is not None else None

    def __iter__(self) -> Iterator[TaskRun]:
        return (self._by_id[run_id] for run_id in self._order)

    def __len__(self) -> int:
        return len(self._order)

    def children(self, parent_id: str | None) -> list[TaskRun]:
        """Direct children of a run (root runs for None), in creation order. Linear: rare paths."""
        return [run for run in self if run.parent_task_run_id == parent_id]

    def descendants(self, run_id: str) -> list[TaskRun]:
        """Every run below ``run_id``. Linear: for restarts and kills only."""
        below: set[str] = {run_id}
        found: list[TaskRun] = []
        for run in self:  # creation order: a parent always precedes its children
            if run.parent_task_run_id in below:
                below.add(run.id)
                found.append(run)
        return found

    def ancestors(self, run: TaskRun) -> list[TaskRun]:
        """The parent chain of a run, closest first."""
        chain: list[TaskRun] = []
        parent_id = run.parent_task_run_id
        while parent_id is not None:
            parent = self._by_id.get(parent_id)
            if parent is None:
                break
            chain.append(parent)
            parent_id = parent.parent_task_run_id
        return chain

    def active(self) -> list[TaskRun]:
        """Runs not terminated. Linear: for kills and start-up checks."""
        return [run for run in self if not run.state.current.is_terminated and not is_stale(run)]


def _set(tree: dict[str, Any], task_id: str, path: list[str], leaf: Any) -> None:
    if not path:
        tree[task_id] = leaf
        return
    node = tree.get(task_id)
    if not isinstance(node, dict):
        node = tree[task_id] = {}
    for value in path[:-1]:
        child = node.get(value)
        if not isinstance(child, dict):
            child = node[value] = {}
        node = child
    node[path[-1]] = leaf


def _unset(tree: dict[str, Any], task_id: str, path: list[str]) -> None:
    if not path:
        tree.pop(task_id, None)
        return
    node = tree.get(task_id)
    for value in path[:-1]:
        if not isinstance(node, dict):
            return
        node = node.get(value)
    if isinstance(node, dict):
        node.pop(path[-1], None)
