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

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, text, update

from lanner.errors import NotLeaderError
from lanner.store.protocols.queue import (
    JOB_LOST,
    ExecutorEvent,
    ExpiredJobs,
    Fence,
    Job,
    JobClaim,
    NewEvent,
    NewJob,
)
from lanner.store.sqlalchemy.bulk import BulkStatement
from lanner.store.sqlalchemy.schema import executions, executor_events, jobs

QUEUED = "QUEUED"
RUNNING = "RUNNING"
# Bound of one ``IN (...)`` list: far below SQLite's 32,766 variables.
MAX_IN_LIST = 500

_INSERT_EVENT = BulkStatement(insert(executor_events))
# Fair progress: the events of older executions first (an execution's own in id order), so
# under a backlog a step of an old execution does not wait behind every newer one. An event
# whose execution is gone sorts by its own time (the step that drops it still comes).
_DUE_EVENTS = (
    select(executor_events)
    .select_from(
        executor_events.outerjoin(executions, executions.c.id == executor_events.c.execution_id)
    )
    .where(executor_events.c.available_at <= bindparam("k_now"))
    .order_by(
        func.coalesce(executions.c.start_date, executor_events.c.created), executor_events.c.id
    )
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
_HEARTBEAT_IDS = (
    update(jobs)
    .where(
        jobs.c.id.in_(bindparam("k_ids", expanding=True)),
        jobs.c.worker_id == bindparam("k_worker_id"),
        jobs.c.status == RUNNING,
    )
    .values(heartbeat_at=bindparam("k_now"), lease_expires_at=bindparam("k_lease_expires_at"))
)
_REQUEUE_VALUES: dict[str, Any] = {"status": QUEUED, "worker_id": None, "lease_expires_at": None}
_REQUEUE_WORKER = (
    update(jobs)
    .where(jobs.c.status == RUNNING, jobs.c.worker_id == bindparam("k_worker_id"))
    .values(**_REQUEUE_VALUES)
)
_REQUEUE_WORKER_BUT = (
    update(jobs)
    .where(
        jobs.c.status == RUNNING,
        jobs.c.worker_id == bindparam("k_worker_id"),
        jobs.c.id.not_in(bindparam("k_keep", expanding=True)),
    )
    .values(**_REQUEUE_VALUES)
)
_REQUEUE_EXPIRED = (
    update(jobs)
    .where(jobs.c.status == RUNNING, jobs.c.lease_expires_at < bindparam("k_now"))
    .values(**_REQUEUE_VALUES)
)
# Leases of other workers than ``k_spare`` (the caller's own, alive while it is).
_OTHERS = jobs.c.worker_id.is_distinct_from(bindparam("k_spare"))
_EXPIRED = (
    select(jobs)
    .where(jobs.c.status == RUNNING, jobs.c.lease_expires_at < bindparam("k_now"), _OTHERS)
    .order_by(jobs.c.lease_expires_at)
    .limit(MAX_IN_LIST)
    .with_for_update(skip_locked=True)
)
_REQUEUE_IDS = (
    update(jobs)
    .where(jobs.c.id.in_(bindparam("k_ids", expanding=True)), jobs.c.status == RUNNING)
    .values(**_REQUEUE_VALUES)
)
_DELETE_IDS = delete(jobs).where(jobs.c.id.in_(bindparam("k_ids", expanding=True)))
_NEXT_EXPIRY = select(func.min(jobs.c.lease_expires_at)).where(jobs.c.status == RUNNING, _OTHERS)


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
    """Events available at ``now``: those of the oldest execution (by start) first, each
    execution's in id order."""
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


def job_values(
    job_id: str, job: NewJob, now: datetime, since: datetime | None = None
) -> dict[str, Any]:
    """The ``jobs`` columns of a new, queued ``job``. A job due now is due ``since`` (its
    execution's start, when given and past): the queue, oldest ``available_at`` first, then
    hands out the jobs of older executions first (fair progress under a backlog)."""
    available_at = job.available_at or (min(since, now) if since is not None else now)
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
        "available_at": available_at,
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


def heartbeat_jobs(
    conn: Connection,
    worker_id: str,
    now: datetime,
    lease_s: float,
    job_ids: Sequence[str] | None = None,
) -> None:
    """Extend the lease of every job ``worker_id`` runs, or only of ``job_ids`` among them
    (those it really runs: a job it lost track of is left to expire)."""
    values = {
        "k_worker_id": worker_id,
        "k_now": now,
        "k_lease_expires_at": now + timedelta(seconds=lease_s),
    }
    if job_ids is None:
        conn.execute(_HEARTBEAT, values)
        return
    for chunk in chunks(list(job_ids)):
        conn.execute(_HEARTBEAT_IDS, {**values, "k_ids": chunk})


def requeue_jobs(
    conn: Connection,
    now: datetime,
    worker_id: str | None = None,
    keep: Sequence[str] = (),
) -> int:
    """Queue again the running jobs of ``worker_id`` (but ``keep``, those it still runs), or
    (None) those whose lease expired."""
    if worker_id is not None and keep:
        result = conn.execute(_REQUEUE_WORKER_BUT, {"k_worker_id": worker_id, "k_keep": list(keep)})
    elif worker_id is not None:
        result = conn.execute(_REQUEUE_WORKER, {"k_worker_id": worker_id})
    else:
        result = conn.execute(_REQUEUE_EXPIRED, {"k_now": now})
    return result.rowcount


def expire_jobs(conn: Connection, now: datetime, spare_worker: str | None = None) -> ExpiredJobs:
    """End the leases that ran out before ``now`` (but those of ``spare_worker``): a ``run``
    job is deleted and a :data:`JOB_LOST` event tells the executor (which records the lost
    attempt and queues the next); a ``resolve`` or ``finalize`` job is queued again as it is.
    Also the next lease expiry, to wake up at."""
    rows = list(conn.execute(_EXPIRED, {"k_now": now, "k_spare": spare_worker}))
    lost = [row for row in rows if row.kind == "run"]
    again = [row.id for row in rows if row.kind != "run"]
    if again:
        conn.execute(_REQUEUE_IDS, {"k_ids": again})
    if lost:
        conn.execute(_DELETE_IDS, {"k_ids": [row.id for row in lost]})
        insert_events(conn, [_lost_event(row, now) for row in lost])
    next_expiry: datetime | None = conn.execute(_NEXT_EXPIRY, {"k_spare": spare_worker}).scalar()
    return ExpiredJobs(lost=len(lost), requeued=len(again), next_expiry=next_expiry)


def _lost_event(row: Row[Any], now: datetime) -> dict[str, Any]:
    payload = {
        "taskRunId": row.task_run_id,
        "attempt": (row.payload or {}).get("attempt"),
        "workerId": row.worker_id,
        "jobPayload": row.payload,
    }
    return event_values(row.tenant_id, NewEvent(row.execution_id, JOB_LOST, payload), now)


_JOB_COUNTS = select(jobs.c.status, func.count()).group_by(jobs.c.status)


def job_counts(conn: Connection) -> dict[str, int]:
    """How many jobs are in each status (``QUEUED``, ``RUNNING``)."""
    return {status: count for status, count in conn.execute(_JOB_COUNTS)}


_SHARE_DRAIN = text("SELECT pg_advisory_xact_lock_shared(:k_drain)")
_HOLDS_LOCK = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = :k_pid AND classid::bigint = :k_hi AND objid::bigint = :k_lo AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)


def check_fence(conn: Connection, fence: Fence) -> None:
    """In the caller's transaction: share ``fence.drain_key`` (a new leader waits for this
    transaction to end before it reads anything) and check that ``fence.holder_pid`` still
    holds ``fence.lock_key``; :class:`NotLeaderError` otherwise (PostgreSQL only)."""
    conn.execute(_SHARE_DRAIN, {"k_drain": fence.drain_key})
    held = conn.execute(
        _HOLDS_LOCK,
        {
            "k_pid": fence.holder_pid,
            "k_hi": fence.lock_key >> 32,
            "k_lo": fence.lock_key & 0xFFFFFFFF,
        },
    ).scalar()
    if not held:
        raise NotLeaderError("this executor no longer holds the leadership")


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
