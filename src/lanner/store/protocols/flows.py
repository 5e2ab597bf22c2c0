"""The store's contract for flows and their revisions.

Imports only the standard library and the store's ``pages``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lanner.store.protocols.pages import DEFAULT_TENANT, Page


@dataclass(frozen=True, slots=True)
class StoredFlow:
    """One revision of a flow as stored.

    ``document`` is the parsed flow in Kestra's Flow JSON shape (without ``tenantId``,
    ``revision``, ``deleted``, which the store owns); ``source`` is the YAML exactly as submitted.
    """

    tenant_id: str
    namespace: str
    id: str
    revision: int
    source: str
    document: Mapping[str, Any]
    deleted: bool
    disabled: bool
    updated: datetime
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewFlowRevision:
    """What a caller hands to :meth:`FlowStore.add_flow_revision`."""

    tenant_id: str
    namespace: str
    id: str
    source: str
    document: Mapping[str, Any]
    disabled: bool = False
    deleted: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FlowQuery:
    """Search criteria for flows; every given criterion must hold (AND).

    ``namespace`` matches the namespace itself and its children (``a.b`` matches ``a.b`` and
    ``a.b.c``, not ``a.bc``). ``q`` is a case-insensitive substring of the id or namespace.
    ``labels`` must all be present with these values. ``sort`` holds ``(field, descending)`` pairs
    over ``id``, ``namespace``, ``revision``, ``updated``. ``page`` is 1-based.
    """

    tenant_id: str = DEFAULT_TENANT
    q: str | None = None
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    page: int = 1
    size: int = 10
    sort: Sequence[tuple[str, bool]] = ()


class FlowStore(Protocol):
    """Flows and their revisions.

    Every write adds a revision row; the latest revision (deleted or not) is the flow's current
    state. Revisions of one flow are numbered 1, 2, … without gaps.
    """

    async def get_flow(
        self,
        tenant_id: str,
        namespace: str,
        flow_id: str,
        *,
        revision: int | None = None,
        allow_deleted: bool = False,
    ) -> StoredFlow | None:
        """The latest revision (or the given one); ``None`` when absent or, unless
        ``allow_deleted``, when that revision is a deletion."""
        ...

    async def add_flow_revision(
        self, flow: NewFlowRevision, *, expected_revision: int | None
    ) -> StoredFlow:
        """Append a revision numbered ``expected_revision + 1`` (1 when ``None``).

        ``expected_revision`` is the latest revision the caller saw (``None``: the flow has no
        revision at all). Raises :class:`lanner.errors.ConcurrentUpdateError` when the latest
        stored revision differs, so two writers never both win.
        """
        ...

    async def list_flow_revisions(
        self, tenant_id: str, namespace: str, flow_id: str
    ) -> list[StoredFlow]:
        """Every revision of the flow, oldest first, deletions included."""
        ...

    async def list_flows(self, tenant_id: str, namespace: str | None = None) -> list[StoredFlow]:
        """Latest non-deleted revision of every flow in exactly ``namespace`` (all when None),
        ordered by namespace then id."""
        ...

    async def search_flows(self, query: FlowQuery) -> Page[StoredFlow]:
        """Latest non-deleted revisions matching ``query``, one page of them.

        Raises :class:`lanner.errors.IllegalArgumentError` for a sort field outside the
        whitelist, a page below 1 or a size outside 1..10,000.
        """
        ...

    async def distinct_namespaces(self, tenant_id: str, q: str | None = None) -> list[str]:
        """Sorted namespaces that hold at least one non-deleted flow, filtered by substring."""
        ...
