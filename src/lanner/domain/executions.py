"""Executions and task runs as frozen data, with Kestra's state histories.

An execution's task runs are rows of their own (``TaskRun``), not a list inside the execution:
the store keeps them in their own table and the API assembles Kestra's ``taskRunList`` on read.
State changes append ``{state, date}`` history entries; nothing here mutates. Imports only the
standard library and the domain.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from lanner.domain.labels import Label
from lanner.domain.states import StateType

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


_BASE62_PAIRS = tuple(a + b for a in _BASE62 for b in _BASE62)
# A UUID's version 4 and RFC 4122 variant bits, as ``uuid.UUID(bytes=..., version=4)`` sets them.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


def new_id() -> str:
    """A Kestra "friendly id": a random UUID written in base62 (22 characters at most).

    Two digits per division and no ``uuid.UUID`` object: half the time of the plain way (a few
    ids per execution, on the hot path)."""
    return base62((int.from_bytes(os.urandom(16)) & _UUID4_CLEAR) | _UUID4_SET)


def base62(number: int) -> str:
    """``number`` (≥ 0) in base 62, most significant digit first."""
    pairs = []
    while number >= 3844:
        number, rest = divmod(number, 3844)
        pairs.append(_BASE62_PAIRS[rest])
    head = _BASE62_PAIRS[number] if number >= 62 else _BASE62[number]
    pairs.append(head)
    return "".join(reversed(pairs))


@dataclass(frozen=True, slots=True)
class StateHistory:
    state: StateType
    date: datetime


@dataclass(frozen=True, slots=True)
class State:
    """A current state type and every state it went through, oldest first."""

    current: StateType
    histories: tuple[StateHistory, ...]

    @classmethod
    def of(cls, state: StateType, at: datetime) -> State:
        return cls(state, (StateHistory(state, at),))

    def to(self, state: StateType, at: datetime) -> State:
        """This state moved to ``state`` (no new history entry when it is the same)."""
        if state is self.current:
            return self
        return State(state, (*self.histories, StateHistory(state, at)))

    @property
    def start_date(self) -> datetime:
        return self.histories[0].date

    @property
    def end_date(self) -> datetime | None:
        """Set once terminated (or paused), as Kestra does."""
        if self.current.is_terminated or self.current.is_paused:
            return self.histories[-1].date
        return None

    @property
    def duration(self) -> timedelta | None:
        end = self.end_date
        return end - self.start_date if end is not None else None

    @property
    def is_terminated(self) -> bool:
        return self.current.is_terminated


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a task run on a worker."""

    state: State
    worker_id: str | None = None


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One run of one task, possibly one of many for a loop (``value``, ``iteration``)."""

    id: str
    tenant_id: str
    execution_id: str
    namespace: str
    flow_id: str
    task_id: str
    state: State
    parent_task_run_id: str | None = None
    value: str | None = None
    iteration: int | None = None
    attempts: tuple[Attempt, ...] = ()
    outputs: Mapping[str, Any] | None = None
    # Which branch of its parent created it (``then``, ``cases.a``, ``errors``...), for the executor.
    branch: str | None = None
    # Extra data the executor keeps for flowable task runs (resolved loop values, etc.).
    internal: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def with_state(self, state: StateType, at: datetime) -> TaskRun:
        return replace(self, state=self.state.to(state, at))


@dataclass(frozen=True, slots=True)
class ExecutionTrigger:
    """What started an execution (a Schedule, a Webhook, a Flow trigger...)."""

    id: str
    type: str
    variables: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Execution:
    """One run of a flow revision. Task runs live apart (see :class:`TaskRun`)."""

    id: str
    tenant_id: str
    namespace: str
    flow_id: str
    flow_revision: int
    state: State
    inputs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    outputs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    labels: tuple[Label, ...] = ()
    variables: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    parent_id: str | None = None
    original_id: str | None = None
    trigger: ExecutionTrigger | None = None
    attempt_number: int = 1
    original_created_date: datetime | None = None
    schedule_date: datetime | None = None
    kind: str | None = None
    deleted: bool = False

    def with_state(self, state: StateType, at: datetime) -> Execution:
        return replace(self, state=self.state.to(state, at))


def final_state(root_states: list[StateType]) -> StateType:
    """The execution state derived from its root task runs' states (Kestra's order)."""
    present = set(root_states)
    for state in (StateType.KILLED, StateType.FAILED, StateType.WARNING, StateType.PAUSED):
        if state in present:
            return state
    return StateType.SUCCESS
