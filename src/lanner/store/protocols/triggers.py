"""The store's contract for trigger state (Kestra's ``Trigger`` context) and the scheduler's
lease.

One row per ``(tenant, namespace, flow, trigger)``: the last evaluated date, the next one, the
execution it started and is waiting on (a lock), ``disabled``, a backfill and its progress,
``stopAfter``. Every write is a compare-and-set on the row's ``revision``, so the scheduler and
the API never lose each other's updates. The lease is an expiring named row: at most one
holder at a time, taken over once it expired. Imports only the standard library, the domain
and the pages module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from lanner.domain.labels import Label
from lanner.store.protocols.flows import StoredFlow
from lanner.store.protocols.pages import DEFAULT_TENANT, Page

_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Backfill:
    """A backfill of a Schedule trigger: the ticks from ``start`` to ``end``, one at a time
    (``current_date`` is the next one to run); ``created`` tells two backfills apart."""

    start: datetime
    end: datetime
    current_date: datetime
    created: datetime
    paused: bool = False
    inputs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    labels: tuple[Label, ...] = ()
    previous_next_execution_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class TriggerState:
    """One trigger's runtime state; ``revision`` 0 means not stored yet."""

    tenant_id: str
    namespace: str
    flow_id: str
    trigger_id: str
    date: datetime | None = None
    next_execution_date: datetime | None = None
    execution_id: str | None = None
    disabled: bool = False
    backfill: Backfill | None = None
    stop_after: tuple[str, ...] = ()
    flow_revision: int | None = None
    evaluate_running_date: datetime | None = None
    worker_id: str | None = None
    updated: datetime | None = None
    revision: int = 0

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.tenant_id, self.namespace, self.flow_id, self.trigger_id)


@dataclass(frozen=True, slots=True)
class TriggerQuery:
    """``GET /triggers/search``: ``q`` in the flow id, trigger id or namespace; ``namespace``
    a prefix (itself or ``namespace.*``); sort fields ``namespace``, ``flowId``,
    ``triggerId``, ``nextExecutionDate``, ``date``."""

    tenant_id: str = DEFAULT_TENANT
    q: str | None = None
    namespace: str | None = None
    flow_id: str | None = None
    worker_id: str | None = None
    page: int = 1
    size: int = 10
    sort: Sequence[tuple[str, bool]] = ()


class TriggerStore(Protocol):
    """Trigger state rows, by ``(tenant, namespace, flow, trigger)``."""

    async def get_trigger(
        self, tenant_id: str, namespace: str, flow_id: str, trigger_id: str
    ) -> TriggerState | None:
        """The trigger's state; None when it has none."""
        ...

    async def list_triggers(
        self,
        tenant_id: str | None = None,
        namespace: str | None = None,
        flow_id: str | None = None,
    ) -> list[TriggerState]:
        """States of every tenant (None) or one, optionally of exactly one namespace and flow,
        by tenant, namespace, flow and trigger."""
        ...

    async def search_triggers(self, query: TriggerQuery) -> Page[TriggerState]:
        """One page of ``query``'s matches; :class:`~lanner.errors.IllegalArgumentError` for
        a sort field outside the list, a page below 1 or a size outside 1..10,000."""
        ...

    async def save_trigger(
        self, state: TriggerState, *, expected_revision: int | None
    ) -> TriggerState:
        """Write ``state`` when the stored row is at ``expected_revision`` (None: no row yet)
        and return it at the next revision, ``updated`` now; otherwise raise
        :class:`~lanner.errors.ConcurrentUpdateError`."""
        ...

    async def delete_trigger(
        self, tenant_id: str, namespace: str, flow_id: str, trigger_id: str
    ) -> bool:
        """Delete the state; False when there was none."""
        ...

    async def list_scheduled_flows(self) -> list[StoredFlow]:
        """The latest non-deleted revision of every flow, of every tenant, whose source names a
        schedule trigger (``Schedule``, ``ScheduleOnDates``)."""
        ...

    async def flows_version(self) -> tuple[int, datetime | None]:
        """A cheap fingerprint of the flows table, ``(rows, latest update)``: it changes with
        every deploy, update and delete, so a scheduler re-reads its flows only then."""
        ...


class LeaseStore(Protocol):
    """Expiring named leases: at most one holder at a time."""

    async def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew ``name`` for ``holder`` until now + ``ttl``: True when ``holder``
        holds it afterwards (it was free, expired, or already its own)."""
        ...

    async def release_lease(self, name: str, holder: str) -> None:
        """Give ``name`` up if ``holder`` holds it."""
        ...
