"""The store's contract for executions, task runs and the executor/worker queues.

The database is the queue: an accepted execution, every executor event (task results, kills,
resumes, timers) and every worker job are rows, so a crash loses nothing and embedded and
multi-node modes run the same code. Imports only the standard library, the domain and
``lanner.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

from lanner.domain.executions import Execution, TaskRun
from lanner.domain.states import StateType
from lanner.errors import ConflictError
from lanner.store.protocols import DEFAULT_TENANT, Page

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
class ExecutionStep:
    """Everything one executor decision writes, applied atomically (never half-applied).

    ``execution``: the new version of the execution row (inserted when new: subflow children);
    ``task_runs``: created or updated task runs (upsert by id; a new one gets the next position
    of its execution); ``jobs``: queued for workers; ``events``: added (timers, events of other
    executions such as a parent's ``child_ended``, or a child's ``created``);
    ``consumed_events``: ids of the events this decision handled, deleted;
    ``finished_jobs``: ids of jobs whose results this decision handled without an event row
    (handed over in process by a local worker), deleted; when one of them is gone already
    (finished elsewhere, deleted with its execution), the whole call fails with
    :class:`JobGoneError` and nothing is written.
    """

    execution_id: str
    execution: Execution | None = None
    task_runs: tuple[TaskRun, ...] = ()
    jobs: tuple[NewJob, ...] = ()
    events: tuple[NewEvent, ...] = ()
    consumed_events: tuple[int, ...] = ()
    finished_jobs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobClaim:
    """Jobs of an :meth:`ExecutionStore.apply_steps` call inserted already claimed: up to
    ``limit`` due ones, running for ``worker_id`` with a lease of ``lease_s`` seconds (a worker
    in the same process takes them straight from the call, without a ``claim_jobs``)."""

    worker_id: str
    limit: int
    lease_s: float


class JobGoneError(ConflictError):
    """A job a step says it finished is not in the queue any more."""


@dataclass(frozen=True, slots=True)
class LiveExecution:
    """An unfinished execution of a flow, as flow ``concurrency`` limits count it."""

    id: str
    state: StateType
    created: datetime


@dataclass(frozen=True, slots=True)
class ExecutionQuery:
    """Search criteria for executions; every given criterion must hold (AND).

    ``namespace`` matches the namespace and its children (like flows); ``flow_id`` is exact;
    ``states`` any of; ``labels`` all present with these values; ``q`` a case-insensitive
    substring of id, namespace or flow id; dates bound ``start_date`` (inclusive).
    ``sort`` holds ``(field, descending)`` over ``id``, ``namespace``, ``flowId``,
    ``state.current``, ``state.startDate``, ``state.endDate``; default newest first.
    """

    tenant_id: str = DEFAULT_TENANT
    namespace: str | None = None
    flow_id: str | None = None
    states: tuple[StateType, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    q: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    parent_id: str | None = None
    page: int = 1
    size: int = 10
    sort: Sequence[tuple[str, bool]] = ()


class ExecutionStore(Protocol):
    """Executions, task runs, executor events and worker jobs."""

    async def create_execution(self, execution: Execution) -> None:
        """Insert the execution and its ``created`` event in one transaction (durable once
        this returns). A duplicate id raises :class:`lanner.errors.ConflictError`."""
        ...

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution | None:
        """The execution (deleted ones excluded), or None."""
        ...

    async def list_task_runs(self, execution_id: str) -> list[TaskRun]:
        """Every task run of the execution, in creation order."""
        ...

    async def load_executions(
        self, tenants: Mapping[str, str]
    ) -> dict[str, tuple[Execution, list[TaskRun]]]:
        """For each ``execution_id → tenant_id`` of ``tenants``: the execution (deleted ones
        excluded) and its task runs in creation order, read in one snapshot; absent ones are
        left out. The engine loads many executions' snapshots this way in one read."""
        ...

    async def search_executions(self, query: ExecutionQuery) -> Page[Execution]:
        """Non-deleted executions matching ``query``, one page of them, with the total."""
        ...

    async def live_executions(
        self, tenant_id: str, namespace: str, flow_id: str
    ) -> list[LiveExecution]:
        """The non-deleted, non-terminated executions of one flow (exact namespace), oldest
        first (creation date, then id): what a flow's ``concurrency`` limit counts."""
        ...

    async def delete_execution(self, tenant_id: str, execution_id: str) -> bool:
        """Remove the execution, its task runs, events, jobs and logs; False when absent."""
        ...

    async def apply_steps(
        self, steps: Sequence[ExecutionStep], *, claim: JobClaim | None = None
    ) -> list[Job]:
        """Apply many executions' steps in ONE transaction (group commit).

        All or nothing per call: when one step cannot be applied (a task run of an execution
        that does not exist raises :class:`lanner.errors.ConflictError`; a step whose
        ``execution.id`` is not its ``execution_id`` raises ``ValueError`` before any write),
        no step of the call is written, while other callers' writes still commit. To isolate
        a bad step, retry the steps one call each. Steps of one execution in one call apply in
        order (the last execution version wins). Events addressed to an execution that does
        not exist (any more) are dropped. Job ids are generated; jobs start queued, except
        those ``claim`` takes, which start running and are returned (oldest first)."""
        ...

    async def due_events(self, now: datetime, limit: int) -> list[ExecutorEvent]:
        """Events with ``available_at`` ≤ ``now``, oldest id first, at most ``limit``.
        They stay until a step lists them in ``consumed_events``."""
        ...

    async def next_event_time(self) -> datetime | None:
        """The earliest ``available_at`` of any event (to sleep until a timer is due)."""
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

    async def heartbeat_jobs(self, worker_id: str, now: datetime, lease_s: float) -> None:
        """Extend the lease of every job ``worker_id`` runs."""
        ...

    async def requeue_jobs(self, now: datetime, worker_id: str | None = None) -> int:
        """Make claimed jobs claimable again: those of ``worker_id`` (at its start-up), or,
        with None, those whose lease expired (a dead worker's). Returns how many."""
        ...
