"""The queues in the database: executor events and worker jobs, as sync functions of a
SQLAlchemy ``Connection`` run on the writer (every change, claims included) or a reader.

Claims run on the writer: on SQLite the one writer thread (and ``BEGIN IMMEDIATE`` across
processes) makes them atomic; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps two nodes off the
same job. Rows for many calls go through one ``executemany`` of a statement built once, at
import. Imports SQLAlchemy, the schema and the store protocols; never the engine or the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update

from lanner.store.protocols.queue import ExecutorEvent, Job, JobClaim, NewEvent, NewJob
from lanner.store.sqlalchemy.bulk import BulkStatement
from lanner.store.sqlalchemy.schema import executions, executor_events, jobs

QUEUED = "QUEUED"
RUNNING = "RUNNING"
# Bound of one ``IN (...)`` list: far below SQLite's 32,766 variables.
MAX_IN_LIST = 500

_INSERT_EVENT = BulkStatement(insert(executor_events))
_DUE_EVENTS = (
    select(executor_events)
    .where(executor_events.c.available_at <= bindparam("k_now"))
    .order_by(executor_events.c.id)
    .limit(bindparam("k_limit"))
)
_NEXT_EVENT_TIME = select(func.min(executor_events.c.available_at))
_DELETE_EVENT = BulkStatement(
    delete(executor_events).where(executor_events.c.id == bindparam("k_id"))
)
_TENANTS = select(executions.c.id, executions.c.tenant_id).where(
    executions.c.id.in_(bindparam("k_ids", expanding=True))
)

_INSERT_JOB = BulkStatement(insert(jobs))
_CLAIMABLE = (
    select(jobs.c.id)
    .where(jobs.c.status == QUEUED, jobs.c.available_at <= bindparam("k_now"))
    .order_by(jobs.c.priority, jobs.c.available_at, jobs.c.id)
    .limit(bindparam("k_limit"))
    .with_for_update(skip_locked=True)  # PostgreSQL only; SQLite's compiler leaves it out
)
_CLAIM = (
    update(jobs)
    .where(jobs.c.id.in_(_CLAIMABLE.scalar_subquery()))
    .values(
        status=RUNNING,
        worker_id=bindparam("k_worker_id"),
        attempts=jobs.c.attempts + 1,
        heartbeat_at=bindparam("k_now"),
        lease_expires_at=bindparam("k_lease_expires_at"),
    )
    .returning(*jobs.c)
)
_FINISH_JOBS = (
    delete(jobs)
    .where(jobs.c.id.in_(bindparam("k_ids", expanding=True)))
    .returning(jobs.c.id, jobs.c.tenant_id)
)
_HEARTBEAT = (
    update(jobs)
    .where(jobs.c.worker_id == bindparam("k_worker_id"), jobs.c.status == RUNNING)
    .values(heartbeat_at=bindparam("k_now"), lease_expires_at=bindparam("k_lease_expires_at"))
)
_REQUEUE_VALUES: dict[str, Any] = {"status": QUEUED, "worker_id": None, "lease_expires_at": None}
_REQUEUE_WORKER = (
    update(jobs)
    .where(jobs.c.status == RUNNING, jobs.c.worker_id == bindparam("k_worker_id"))
    .values(**_REQUEUE_VALUES)
)
_REQUEUE_EXPIRED = (
    update(jobs)
    .where(jobs.c.status == RUNNING, jobs.c.lease_expires_at < bindparam("k_now"))
    .values(**_REQUEUE_VALUES)
)


# --- events --------------------------------------------------------------------------------


def event_values(tenant_id: str, event: NewEvent, now: datetime) -> dict[str, Any]:
    """The ``executor_events`` columns of ``event`` (``available_at`` None: now)."""
    return {
        "tenant_id": tenant_id,
        "execution_id": event.execution_id,
        "kind": event.kind,
        "payload": event.payload,
        "available_at": event.available_at or now,
        "created": now,
    }


def insert_events(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert event rows (from :func:`event_values`) in one ``executemany``."""
    _INSERT_EVENT.execute(conn, rows)


def delete_events(conn: Connection, ids: Iterable[int]) -> None:
    """Delete the events ``ids`` (consumed); absent ids are ignored."""
    _DELETE_EVENT.execute(conn, [{"k_id": event_id} for event_id in ids])


def add_events(conn: Connection, events: Sequence[NewEvent], now: datetime) -> None:
    """Insert ``events``; those addressed to an execution that does not exist are dropped."""
    tenants = tenants_of(conn, {event.execution_id for event in events})
    insert_events(
        conn,
        [
            event_values(tenants[event.execution_id], event, now)
            for event in events
            if event.execution_id in tenants
        ],
    )


def tenants_of(conn: Connection, execution_ids: Iterable[str]) -> dict[str, str]:
    """The tenant of each existing execution among ``execution_ids``."""
    found: dict[str, str] = {}
    for chunk in chunks(list(execution_ids)):
        found.update((row.id, row.tenant_id) for row in conn.execute(_TENANTS, {"k_ids": chunk}))
    return found


def due_events(conn: Connection, now: datetime, limit: int) -> list[ExecutorEvent]:
    """Events available at ``now``, oldest id first."""
    rows = conn.execute(_DUE_EVENTS, {"k_now": now, "k_limit": limit})
    return [
        ExecutorEvent(
            id=row.id,
            execution_id=row.execution_id,
            kind=row.kind,
            payload=row.payload,
            available_at=row.available_at,
            tenant_id=row.tenant_id,
        )
        for row in rows
    ]


_JOBS_BY_STATUS = select(jobs.c.status, func.count()).group_by(jobs.c.status)
_EVENT_COUNT = select(func.count()).select_from(executor_events)
_EXECUTIONS_BY_STATE = (
    select(executions.c.state, func.count())
    .where(executions.c.deleted.is_(False))
    .group_by(executions.c.state)
)


def queue_depth(conn: Connection) -> dict[str, int]:
    """Jobs by status (``QUEUED``, ``RUNNING``) and ``events``: the executor's inbox."""
    depth = {str(status): int(count) for status, count in conn.execute(_JOBS_BY_STATUS)}
    depth["events"] = int(conn.execute(_EVENT_COUNT).scalar_one())
    return depth


def count_executions_by_state(conn: Connection) -> dict[str, int]:
    """Executions (not deleted), every tenant, by current state."""
    return {str(state): int(count) for state, count in conn.execute(_EXECUTIONS_BY_STATE)}


def next_event_time(conn: Connection) -> datetime | None:
    """The earliest ``available_at`` of any event."""
    value: datetime | None = conn.execute(_NEXT_EVENT_TIME).scalar()
    return value


# --- jobs ----------------------------------------------------------------------------------


def job_values(job_id: str, job: NewJob, now: datetime) -> dict[str, Any]:
    """The ``jobs`` columns of a new, queued ``job``."""
    return {
        "tenant_id": job.tenant_id,
        "id": job_id,
        "execution_id": job.execution_id,
        "task_run_id": job.task_run_id,
        "kind": job.kind,
        "payload": job.payload,
        "status": QUEUED,
        "priority": 0,
        "worker_id": None,
        "attempts": 0,
        "available_at": job.available_at or now,
        "heartbeat_at": None,
        "lease_expires_at": None,
        "created": now,
    }


def claim_new_jobs(rows: Sequence[dict[str, Any]], claim: JobClaim, now: datetime) -> list[Job]:
    """Mark up to ``claim.limit`` of the due new job ``rows`` (from :func:`job_values`, before
    :func:`insert_jobs`) running for ``claim.worker_id``; the claimed jobs, in order."""
    claimed: list[Job] = []
    lease_expires_at = now + timedelta(seconds=claim.lease_s)
    for row in rows:
        if len(claimed) >= claim.limit:
            break
        if row["available_at"] > now:
            continue
        row.update(
            status=RUNNING,
            worker_id=claim.worker_id,
            attempts=1,
            heartbeat_at=now,
            lease_expires_at=lease_expires_at,
        )
        claimed.append(
            Job(
                id=row["id"],
                tenant_id=row["tenant_id"],
                execution_id=row["execution_id"],
                task_run_id=row["task_run_id"],
                kind=row["kind"],
                payload=row["payload"],
                attempts=1,
                worker_id=claim.worker_id,
            )
        )
    return claimed


def finish_jobs(conn: Connection, job_ids: Sequence[str]) -> set[str]:
    """Delete the jobs ``job_ids``; the ids of those that were there."""
    found: set[str] = set()
    for chunk in chunks(list(job_ids)):
        found.update(row.id for row in conn.execute(_FINISH_JOBS, {"k_ids": chunk}))
    return found


def insert_jobs(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert job rows (from :func:`job_values`) in one ``executemany``."""
    _INSERT_JOB.execute(conn, rows)


def claim_jobs(
    conn: Connection, worker_id: str, now: datetime, limit: int, lease_s: float
) -> list[Job]:
    """Mark up to ``limit`` due, queued jobs running for ``worker_id``; oldest first."""
    rows = list(
        conn.execute(
            _CLAIM,
            {
                "k_now": now,
                "k_limit": limit,
                "k_worker_id": worker_id,
                "k_lease_expires_at": now + timedelta(seconds=lease_s),
            },
        )
    )
    rows.sort(key=lambda row: (row.priority, row.available_at, row.id))
    return [_to_job(row) for row in rows]


def complete_jobs(conn: Connection, results: Sequence[tuple[str, NewEvent]], now: datetime) -> None:
    """Delete each job and add its event; a job already gone (finished by another worker after
    its lease expired, or deleted with its execution) adds nothing, so each job ends once."""
    tenants: dict[str, str] = {}
    for chunk in chunks([job_id for job_id, _ in results]):
        rows = conn.execute(_FINISH_JOBS, {"k_ids": chunk})
        tenants.update((row.id, row.tenant_id) for row in rows)
    insert_events(
        conn,
        [
            event_values(tenants[job_id], event, now)
            for job_id, event in results
            if job_id in tenants
        ],
    )


def heartbeat_jobs(conn: Connection, worker_id: str, now: datetime, lease_s: float) -> None:
    """Extend the lease of every job ``worker_id`` runs."""
    conn.execute(
        _HEARTBEAT,
        {
            "k_worker_id": worker_id,
            "k_now": now,
            "k_lease_expires_at": now + timedelta(seconds=lease_s),
        },
    )


def requeue_jobs(conn: Connection, now: datetime, worker_id: str | None = None) -> int:
    """Queue again the running jobs of ``worker_id``, or (None) those whose lease expired."""
    if worker_id is not None:
        result = conn.execute(_REQUEUE_WORKER, {"k_worker_id": worker_id})
    else:
        result = conn.execute(_REQUEUE_EXPIRED, {"k_now": now})
    return result.rowcount


def chunks(values: list[Any]) -> list[list[Any]]:
    """``values`` cut into lists short enough for one ``IN (...)``."""
    return [values[i : i + MAX_IN_LIST] for i in range(0, len(values), MAX_IN_LIST)]


def _to_job(row: Row[Any]) -> Job:
    return Job(
        id=row.id,
        tenant_id=row.tenant_id,
        execution_id=row.execution_id,
        task_run_id=row.task_run_id,
        kind=row.kind,
        payload=row.payload,
        attempts=row.attempts,
        worker_id=row.worker_id,
    )
