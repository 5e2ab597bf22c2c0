"""The store's contract for the executor's and the workers' queues: events and jobs.

The database is the queue: every executor event (task results, kills, resumes, timers) and
every worker job is a row, so a crash loses nothing and embedded and multi-node modes run the
same code. Imports only the standard library, ``lanner.errors`` and the store's ``pages``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

from lanner.errors import ConflictError
from lanner.store.protocols.pages import DEFAULT_TENANT

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ExecutorEvent:
    """A persisted message for the executor about one execution.

    ``kind`` is one of the engine's event kinds (``created``, ``task_result``, ``kill``,
    ``resume``, ``timer``, ``restart``, ``child_ended``...); ``payload`` is JSON-able. Events are
    handed out once they are due (``available_at`` ≤ now), oldest id first.

    A stored event has its row ``id`` (a step lists it in ``consumed_events``). A worker's
    result handed to an executor in the same process has no row (``id`` None) and names the
    job it ends (``job_id``: the step lists it in ``finished_jobs``).
    """

    id: int | None
    execution_id: str
    kind: str
    payload: Mapping[str, Any]
    available_at: datetime
    tenant_id: str = DEFAULT_TENANT
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to add; ``available_at`` None means now (a timer sets it in the future)."""

    execution_id: str
    kind: str
    payload: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    available_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """Work for a worker: run (or resolve) one task run."""

    id: str
    tenant_id: str
    execution_id: str
    task_run_id: str
    kind: str
    payload: Mapping[str, Any]
    attempts: int
    worker_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to queue; ``available_at`` None means now."""

    tenant_id: str
    execution_id: str
    task_run_id: str
    kind: str
    payload: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    available_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobClaim:
    """Jobs of an :meth:`ExecutionStore.apply_steps` call inserted already claimed: up to
    ``limit`` due ones, running for ``worker_id`` with a lease of ``lease_s`` seconds (a worker
    in the same process takes them straight from the call, without a ``claim_jobs``)."""

    worker_id: str
    limit: int
    lease_s: float


@dataclass(frozen=True, slots=True)
class Fence:
    """A leader's writes commit only while it leads: ``holder_pid`` (the PostgreSQL backend of
    its lock session) holds the advisory lock ``lock_key``; ``drain_key`` is the lock its
    writes share and a new leader takes once, to wait for the old leader's last writes.
    A fenced write of a process that lost the lock raises :class:`lanner.errors.NotLeaderError`."""

    lock_key: int
    drain_key: int
    holder_pid: int


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """A process of a multi-node deployment, as the database sees it: its sessions named
    ``lanner <role> <host> <pid>``; ``last_active`` is the latest activity of any of them
    (or a worker's latest job heartbeat, if later); ``leader`` for the executor holding the
    leadership lock and the scheduler holding its lease."""

    role: str
    host: str
    pid: int
    sessions: int
    since: datetime
    last_active: datetime | None
    leader: bool


JOB_LOST = "job_lost"
"""The event :meth:`QueueStore.expire_jobs` adds for a ``run`` job whose lease ran out:
``{taskRunId, attempt, workerId, jobPayload}`` (the engine's ``events.JOB_LOST``)."""


@dataclass(frozen=True, slots=True)
class ExpiredJobs:
    """What :meth:`QueueStore.expire_jobs` did: ``lost`` run jobs ended with a
    :data:`JOB_LOST` event, ``requeued`` other jobs queued again; ``next_expiry`` is the
    earliest lease still running (None: none)."""

    lost: int
    requeued: int
    next_expiry: datetime | None


class JobGoneError(ConflictError):
    """A job a step says it finished is not in the queue any more."""


class QueueStore(Protocol):
    """Executor events and worker jobs (the queue half of :class:`ExecutionStore`)."""

    async def due_events(self, now: datetime, limit: int) -> list[ExecutorEvent]:
        """Events with ``available_at`` ≤ ``now``, at most ``limit``: those of the oldest
        execution (by start) first, each execution's in id order (a prefix of them).
        They stay until a step lists them in ``consumed_events``."""
        ...

    async def next_event_time(self) -> datetime | None:
        """The earliest ``available_at`` of any event (to sleep until a timer is due)."""
        ...

    async def queue_depth(self) -> dict[str, int]:
        """Jobs by status (``QUEUED``, ``RUNNING``) and ``events`` waiting (``/metrics``)."""
        ...

    async def count_executions_by_state(self) -> dict[str, int]:
        """Executions of every tenant (deleted ones aside) by current state (``/metrics``)."""
        ...

    async def add_events(self, events: Sequence[NewEvent]) -> None:
        """Add events (kill, resume, restart requests from the API) in one transaction.
        Events addressed to an execution that does not exist are dropped."""
        ...

    async def claim_jobs(
        self, worker_id: str, now: datetime, limit: int, lease_s: float
    ) -> list[Job]:
        """Take up to ``limit`` due, unclaimed jobs (``FOR UPDATE SKIP LOCKED`` on PostgreSQL):
        mark them running for ``worker_id`` with a lease of ``lease_s`` seconds. Oldest
        first; ``Job.attempts`` counts the claims of the job, this one included."""
        ...

    async def complete_jobs(self, results: Sequence[tuple[str, NewEvent]]) -> None:
        """For each ``(job_id, event)``: delete the job and add the event, all in one
        transaction (a task's result and the job's end are never apart). A job already gone
        (completed by another worker after its lease expired, or deleted with its execution)
        adds no event: each job reports one result."""
        ...

    async def heartbeat_jobs(
        self,
        worker_id: str,
        now: datetime,
        lease_s: float,
        job_ids: Sequence[str] | None = None,
    ) -> None:
        """Extend the lease of every job ``worker_id`` runs (only ``job_ids`` when given)."""
        ...

    async def requeue_jobs(
        self, now: datetime, worker_id: str | None = None, keep: Sequence[str] = ()
    ) -> int:
        """Make claimed jobs claimable again: those of ``worker_id`` but ``keep`` (at its
        start-up, or the claims it lost track of in an outage), or, with None, those whose
        lease expired. Returns how many."""
        ...

    async def cluster_nodes(self) -> list[ClusterNode]:
        """The processes attached to the database (PostgreSQL; none on SQLite)."""
        ...

    async def job_counts(self) -> dict[str, int]:
        """How many jobs are in each status: ``QUEUED`` (the queue's depth), ``RUNNING``
        (leases held)."""
        ...

    async def expire_jobs(self, now: datetime, spare_worker: str | None = None) -> ExpiredJobs:
        """End the leases expired at ``now`` of every worker but ``spare_worker`` (a dead
        worker's jobs): a ``run`` job ends with a :data:`JOB_LOST` event (the executor records
        the lost attempt and queues the next one), other jobs are queued again; in one
        transaction. Also the next expiry, so the leader wakes up right then."""
        ...
