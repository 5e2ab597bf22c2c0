"""The store's contract for Flow triggers: the state changes they react to, and the time windows
of their ``preconditions`` / ``MultipleCondition``.

A :class:`Transition` ("execution X reached state S") is written by the executor in the same
transaction as the state change (``ExecutionStep.transitions``), so none is lost in a crash; the
flow-trigger role reads them in order and settles each once handled, in the transaction that also
saves the windows it changed. A :class:`TriggerWindow` is the results one multiple condition
gathered in its current window, one row per (downstream flow, trigger, condition id).

Imports only the standard library, the domain and the flows protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from lanner.domain.states import StateType
from lanner.store.protocols.flows import StoredFlow


@dataclass(frozen=True, slots=True)
class Transition:
    """An execution reached ``state`` at ``at``; ``id`` is given by the store (ordered)."""

    tenant_id: str
    execution_id: str
    namespace: str
    flow_id: str
    state: StateType
    at: datetime
    id: int | None = None


@dataclass(frozen=True, slots=True)
class WindowKey:
    """A multiple condition of one downstream flow's trigger."""

    tenant_id: str
    namespace: str
    flow_id: str
    trigger_id: str
    condition_id: str


@dataclass(frozen=True, slots=True)
class TriggerWindow:
    """The results gathered in ``[start, end]`` by condition name (only met ones, ``True``)."""

    key: WindowKey
    start: datetime
    end: datetime
    results: Mapping[str, bool] = field(default_factory=dict)


class FlowTriggerStore(Protocol):
    """Transitions waiting for the flow-trigger role, and the windows of multiple conditions."""

    async def pending_transitions(self, limit: int) -> list[Transition]:
        """The oldest ``limit`` transitions not settled yet, oldest first (all tenants)."""
        ...

    async def settle_transition(
        self,
        transition_id: int,
        *,
        save: Sequence[TriggerWindow] = (),
        delete: Sequence[WindowKey] = (),
    ) -> None:
        """In one transaction: upsert ``save``, delete ``delete`` (absent ones ignored) and the
        transition (already gone: nothing else changes either)."""
        ...

    async def get_windows(
        self, tenant_id: str, namespace: str, flow_id: str
    ) -> list[TriggerWindow]:
        """The stored windows of a downstream flow's triggers (expired ones included)."""
        ...

    async def purge_windows(self, before: datetime) -> int:
        """Delete every window that ended before ``before``; returns how many."""
        ...

    async def changed_flows(self, since: datetime | None) -> list[StoredFlow]:
        """The current revision (deletions included) of every flow updated at or after
        ``since`` (all of them when None), all tenants: how the role's trigger index follows
        flow changes."""
        ...
