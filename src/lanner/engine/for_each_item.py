"""``flow.ForEachItem``: batches of a storage file, one subflow execution per batch.

As in Kestra, the task is a flowable whose three children are made by the engine, not written
in the flow: ``<id>_split`` cuts ``items`` (a ``kestra://`` file) into batch files by ``rows``,
``bytes`` or ``partitions``; ``<id>_items`` starts one execution of the subflow per batch
(``{{ taskrun.items }}`` is the batch's URI and ``{{ taskrun.iteration }}`` its number in the
subflow ``inputs``) and, with ``wait``, ends when they all have, counting them by state in its
``iterations`` output; ``<id>_merge`` gathers the subflows' outputs into one file
(``subflowOutputs``, one JSON object per line, in iteration order). The type names are
Kestra's inner classes (``ForEachItem$ForEachItemSplit``…), so task runs read the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from lanner.domain.executions import TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.states import StateType

S = StateType
FOR_EACH_ITEM = "io.kestra.plugin.core.flow.ForEachItem"
SPLIT = f"{FOR_EACH_ITEM}$ForEachItemSplit"
ITEMS = f"{FOR_EACH_ITEM}$ForEachItemExecutable"
MERGE = f"{FOR_EACH_ITEM}$ForEachItemMergeOutputs"
INTERNAL = frozenset({SPLIT, ITEMS, MERGE})
_SPLIT_PROPS = ("items", "batch")
_ITEMS_PROPS = (
    "namespace", "flowId", "revision", "inputs", "labels", "wait", "transmitFailed",
    "inheritLabels", "scheduleDate",
)  # fmt: skip
_CHILDREN: dict[int, tuple[TaskSpec, tuple[TaskSpec, ...]]] = {}


def children_of(spec: TaskSpec) -> tuple[TaskSpec, ...]:
    """The split, items and merge tasks of a ForEachItem spec (built once per spec)."""
    cached = _CHILDREN.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]

    def child(suffix: str, type_: str, names: tuple[str, ...]) -> TaskSpec:
        props = {k: spec.properties[k] for k in names if k in spec.properties}
        return TaskSpec(
            id=f"{spec.id}_{suffix}",
            type=type_,
            path=f"{spec.path}.{suffix}",
            properties=MappingProxyType(props),
            is_executable=type_ == ITEMS,
            source_type=type_,
        )

    made = (
        child("split", SPLIT, _SPLIT_PROPS),
        child("items", ITEMS, _ITEMS_PROPS),
        child("merge", MERGE, ()),
    )
    if len(_CHILDREN) >= 256:
        _CHILDREN.pop(next(iter(_CHILDREN)))
    _CHILDREN[id(spec)] = (spec, made)
    return made


# -- split -------------------------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3}
_UNITS |= {"gb": 1024**3, "t": 1024**4, "tb": 1024**4}


def parse_size(text: Any) -> int:
    """``bytes`` as Kestra reads a data size (``512``, ``10KB``, ``1MB``: powers of 1024)."""
    match = _SIZE.match(str(text))
    if match is None or (match.group(2) or "").lower() not in _UNITS:
        raise ValueError(f"batch.bytes: invalid size `{text}`")
    size = int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    if size <= 0:
        raise ValueError("batch.bytes: must be greater than 0")
    return size


def split_items(
    content: bytes,
    *,
    rows: int | None = None,
    size: int | None = None,
    partitions: int | None = None,
    separator: str = "\n",
) -> list[bytes]:
    """``content`` cut at ``separator`` into batches: ``rows`` lines each, at most ``size``
    bytes each (a longer line alone), or ``partitions`` files filled in turn. Empty batches
    are dropped, so an empty file gives none."""
    sep = separator.encode()
    lines = content.split(sep)
    if lines and lines[-1] == b"":
        lines.pop()
    records = [line + sep for line in lines]
    if partitions is not None:
        if partitions <= 0:
            raise ValueError("batch.partitions: must be greater than 0")
        parts: list[list[bytes]] = [[] for _ in range(partitions)]
        for i, record in enumerate(records):
            parts[i % partitions].append(record)
        return [b"".join(part) for part in parts if part]
    if size is not None:
        batches: list[bytes] = []
        current = b""
        for record in records:
            if current and len(current) + len(record) > size:
                batches.append(current)
                current = b""
            current += record
        if current:
            batches.append(current)
        return batches
    per = 1 if rows is None else rows
    if per <= 0:
        raise ValueError("batch.rows: must be greater than 0")
    return [b"".join(records[i : i + per]) for i in range(0, len(records), per)]


# -- items: the children's results -------------------------------------------------------------


def iterations_of(total: int, ended: Mapping[str, str]) -> dict[str, int]:
    """Kestra's ``iterations`` counters: children by state (the unfinished ones RUNNING)."""
    counts: dict[str, int] = {"CREATED": 0, "RUNNING": total - len(ended)}
    for state in ended.values():
        counts[state] = counts.get(state, 0) + 1
    return counts


def terminal_state(ended: Mapping[str, str], transmit_failed: bool) -> StateType:
    """The items run's end once every child ended (Kestra: a failed child fails it)."""
    if not transmit_failed:
        return S.SUCCESS
    states = set(ended.values())
    for state in (S.FAILED, S.KILLED, S.WARNING):
        if state.value in states:
            return state
    if states & {S.CANCELLED.value, S.RETRIED.value}:
        return S.FAILED
    return S.SUCCESS


def child_ended(
    run: TaskRun, spec: TaskSpec | None, payload: Mapping[str, Any]
) -> tuple[TaskRun, StateType | None]:
    """``run`` (an items run) knowing that one of its children ended, and its end state once
    the last one has (None before)."""
    child_ids = [str(c) for c in run.internal.get("childIds") or ()]
    execution_id = str(payload.get("executionId"))
    if execution_id not in child_ids:
        return run, None
    ended = dict(run.internal.get("ended") or {})
    if execution_id in ended:
        return run, None
    ended[execution_id] = str(payload.get("state"))
    child_outputs = dict(run.internal.get("childOutputs") or {})
    outputs = payload.get("outputs")
    if isinstance(outputs, Mapping) and outputs:
        child_outputs[str(child_ids.index(execution_id) + 1)] = dict(outputs)
    internal = {**run.internal, "ended": ended, "childOutputs": child_outputs}
    run_outputs = {
        **(run.outputs or {}),
        "iterations": iterations_of(len(child_ids), ended),
    }
    run = replace(run, internal=internal, outputs=run_outputs)
    if len(ended) < len(child_ids):
        return run, None
    transmit = spec is None or spec.properties.get("transmitFailed", True) is not False
    return run, terminal_state(ended, transmit)


def merged_lines(child_outputs: Mapping[str, Any]) -> bytes:
    """The subflows' outputs, one JSON object a line, in iteration order."""
    ordered = sorted(child_outputs.items(), key=lambda item: int(item[0]))
    return b"".join(
        json.dumps(outputs, separators=(",", ":"), default=str).encode() + b"\n"
        for _, outputs in ordered
    )
