"""Execution and task run queries: sync functions of a SQLAlchemy ``Connection``.

:func:`apply_steps` is the engine's hot path: the steps of many executions in one transaction,
each kind of row written with ONE ``executemany`` of a statement built at import (executions
inserted or updated, labels replaced only when they changed, task runs upserted by id, jobs
and events inserted, consumed events deleted), after ONE query that reads, for every execution
the batch touches, its tenant, labels and last task run position. Imports SQLAlchemy, the
schema, the store's row and queue modules and its protocols; never the engine or the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert

from lanner.domain.executions import Execution, TaskRun
from lanner.domain.labels import Label
from lanner.domain.states import TERMINATED, StateType
from lanner.errors import ConflictError, IllegalArgumentError
from lanner.store.protocols.executions import (
    PURGE_BATCH,
    ExecutionQuery,
    ExecutionStep,
    LiveExecution,
    PurgedExecution,
    TaskRunOutline,
)
from lanner.store.protocols.pages import Page
from lanner.store.protocols.queue import Fence, Job, JobClaim, JobGoneError, NewEvent
from lanner.store.sqlalchemy import flow_triggers, queue, textsearch
from lanner.store.sqlalchemy.bulk import BulkStatement
from lanner.store.sqlalchemy.counts import (
    DEFAULT_COUNT_BOUND,
    bounded_total,
    capped_count,
    namespace_and_children,
    walks,
)
from lanner.store.sqlalchemy.engines import first_line
from lanner.store.sqlalchemy.rows import (
    execution_values,
    task_run_values,
    to_execution,
    to_task_run,
)
from lanner.store.sqlalchemy.schema import (
    execution_labels,
    executions,
    executor_events,
    jobs,
    log_sequences,
    logs,
    task_runs,
)

# An update sets every column but the key; ``version`` counts the writes.
_NOT_SET = ("tenant_id", "id", "version")
_INSERT_EXECUTION = BulkStatement(insert(executions))
_UPDATE_EXECUTION = BulkStatement(
    update(executions)
    .where(executions.c.id == bindparam("k_id"))
    .values(
        {
            **{c.name: bindparam(c.name) for c in executions.c if c.name not in _NOT_SET},
            "version": executions.c.version + 1,
        }
    )
)
_LAST_POSITION = (
    select(func.max(task_runs.c.position))
    .where(task_runs.c.execution_id == executions.c.id)
    .scalar_subquery()
)
_LOOKUP = select(
    executions.c.id,
    executions.c.tenant_id,
    executions.c.labels,
    _LAST_POSITION,
    executions.c.start_date,
).where(executions.c.id.in_(bindparam("k_ids", expanding=True)))
_GET_EXECUTION = select(executions).where(
    executions.c.tenant_id == bindparam("k_tenant_id"),
    executions.c.id == bindparam("k_id"),
    executions.c.deleted.is_(False),
)
_LIST_TASK_RUNS = (
    select(task_runs)
    .where(task_runs.c.execution_id == bindparam("k_execution_id"))
    .order_by(task_runs.c.position)
)
_LIST_OUTLINES = (
    select(
        task_runs.c.id,
        task_runs.c.parent_task_run_id,
        task_runs.c.task_id,
        task_runs.c.state,
        task_runs.c.internal,
    )
    .where(task_runs.c.execution_id == bindparam("k_execution_id"))
    .order_by(task_runs.c.position)
)
_NO_INTERNAL: Mapping[str, Any] = MappingProxyType({})
_GET_TASK_RUNS = select(task_runs).where(
    task_runs.c.execution_id == bindparam("k_execution_id"),
    task_runs.c.id.in_(bindparam("k_ids", expanding=True)),
)
_LOAD_EXECUTIONS = select(executions).where(
    executions.c.id.in_(bindparam("k_ids", expanding=True)), executions.c.deleted.is_(False)
)
_LOAD_TASK_RUNS = (
    select(task_runs)
    .where(task_runs.c.execution_id.in_(bindparam("k_ids", expanding=True)))
    .order_by(task_runs.c.execution_id, task_runs.c.position)
)
_INSERT_LABEL = BulkStatement(insert(execution_labels))
_DELETE_LABELS = BulkStatement(
    delete(execution_labels).where(execution_labels.c.execution_id == bindparam("k_execution_id"))
)
_DELETE_EXECUTION = delete(executions).where(
    executions.c.tenant_id == bindparam("k_tenant_id"), executions.c.id == bindparam("k_id")
)
# Rows that hang off an execution without a foreign key (queues and logs outlive nothing);
# log lines go through ``textsearch.delete_lines`` (out of the message index too).
_DEPENDENTS = (task_runs, execution_labels, executor_events, jobs, log_sequences)
_DELETE_DEPENDENTS = [
    delete(table).where(table.c.execution_id == bindparam("k_id")) for table in _DEPENDENTS
]

# A task run's position is set once, at insert: an update keeps its place in the list.
_TASK_RUN_KEPT = {"tenant_id", "id", "execution_id", "position"}


def _upsert_task_run(make_insert: Callable[[Any], Any]) -> BulkStatement:
    stmt = make_insert(task_runs)
    upsert: Insert = stmt.on_conflict_do_update(
        index_elements=[task_runs.c.id],
        set_={c.name: stmt.excluded[c.name] for c in task_runs.c if c.name not in _TASK_RUN_KEPT},
    )
    return BulkStatement(upsert)


_UPSERT_TASK_RUN = {
    "sqlite": _upsert_task_run(sqlite.insert),
    "postgresql": _upsert_task_run(postgresql.insert),
}


MAX_PAGE_SIZE = 10_000
_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "id": executions.c.id,
    "namespace": executions.c.namespace,
    "flowId": executions.c.flow_id,
    "state.current": executions.c.state,
    "state.startDate": executions.c.start_date,
    "state.endDate": executions.c.end_date,
}
_DEFAULT_SORT = (("state.startDate", True),)


@dataclass(frozen=True, slots=True)
class _Stored:
    """What :func:`apply_steps` reads first about an execution already stored."""

    tenant_id: str
    labels: list[dict[str, str]]
    last_position: int | None
    start_date: datetime


def create_execution(conn: Connection, now: datetime, execution: Execution) -> None:
    """Insert the execution, its labels and its ``created`` event, due at the execution's
    ``schedule_date`` when that is in the future (it stays CREATED until then), else now."""
    try:
        _INSERT_EXECUTION.execute(conn, [execution_values(execution, now)])
    except IntegrityError:
        raise ConflictError(f"execution {execution.id!r} already exists") from None
    _insert_labels(conn, execution.tenant_id, execution.id, execution.labels)
    scheduled = execution.schedule_date
    created = NewEvent(
        execution.id, "created", available_at=scheduled if scheduled and scheduled > now else None
    )
    queue.insert_events(conn, [queue.event_values(execution.tenant_id, created, now)])


def get_execution(conn: Connection, tenant_id: str, execution_id: str) -> Execution | None:
    """The non-deleted execution ``execution_id`` of ``tenant_id``."""
    row = conn.execute(_GET_EXECUTION, {"k_tenant_id": tenant_id, "k_id": execution_id}).first()
    return None if row is None else to_execution(row)


def get_ended_execution(
    conn: Connection, tenant_id: str, execution_id: str
) -> tuple[Execution, list[TaskRun] | None] | None:
    """The execution and, once it has ended, its task runs (one read transaction)."""
    execution = get_execution(conn, tenant_id, execution_id)
    if execution is None:
        return None
    if not execution.state.is_terminated:
        return execution, None
    return execution, list_task_runs(conn, execution_id)


def list_task_runs(conn: Connection, execution_id: str) -> list[TaskRun]:
    """The execution's task runs by position (creation order)."""
    rows = conn.execute(_LIST_TASK_RUNS, {"k_execution_id": execution_id})
    return [to_task_run(row) for row in rows]


def list_task_run_outlines(conn: Connection, execution_id: str) -> list[TaskRunOutline]:
    """The execution's task runs by position, five columns each (no documents but ``internal``,
    NULL for most runs): a page lays out 10,000 runs with this in a few milliseconds."""
    states = {state.value: state for state in StateType}
    return [
        TaskRunOutline(run_id, parent_id, task_id, states[state], internal or _NO_INTERNAL)
        for run_id, parent_id, task_id, state, internal in conn.execute(
            _LIST_OUTLINES, {"k_execution_id": execution_id}
        )
    ]


def get_task_runs(
    conn: Connection, execution_id: str, task_run_ids: Sequence[str]
) -> list[TaskRun]:
    """The execution's task runs among ``task_run_ids``, by position."""
    found: list[tuple[int, TaskRun]] = []
    for chunk in queue.chunks(list(dict.fromkeys(task_run_ids))):
        rows = conn.execute(_GET_TASK_RUNS, {"k_execution_id": execution_id, "k_ids": chunk})
        found.extend((row.position, to_task_run(row)) for row in rows)
    found.sort(key=lambda item: item[0])
    return [run for _, run in found]


def load_executions(
    conn: Connection, tenants: Mapping[str, str]
) -> dict[str, tuple[Execution, list[TaskRun]]]:
    """The non-deleted executions among ``tenants`` (id → tenant) with their task runs."""
    found: dict[str, tuple[Execution, list[TaskRun]]] = {}
    for chunk in queue.chunks(list(tenants)):
        for row in conn.execute(_LOAD_EXECUTIONS, {"k_ids": chunk}):
            if row.tenant_id == tenants[row.id]:
                found[row.id] = (to_execution(row), [])
        if found:
            for row in conn.execute(_LOAD_TASK_RUNS, {"k_ids": chunk}):
                loaded = found.get(row.execution_id)
                if loaded is not None:
                    loaded[1].append(to_task_run(row))
    return found


_LIVE_EXECUTIONS = (
    select(executions.c.id, executions.c.state, executions.c.start_date)
    .where(
        executions.c.tenant_id == bindparam("k_tenant_id"),
        executions.c.namespace == bindparam("k_namespace"),
        executions.c.flow_id == bindparam("k_flow_id"),
        executions.c.deleted.is_(False),
        executions.c.state.not_in([state.value for state in TERMINATED]),
    )
    .order_by(executions.c.start_date, executions.c.id)
)


def live_executions(
    conn: Connection, tenant_id: str, namespace: str, flow_id: str
) -> list[LiveExecution]:
    """The unfinished executions of one flow, oldest first (flow concurrency limits)."""
    rows = conn.execute(
        _LIVE_EXECUTIONS,
        {"k_tenant_id": tenant_id, "k_namespace": namespace, "k_flow_id": flow_id},
    )
    return [LiveExecution(row.id, StateType(row.state), row.start_date) for row in rows]


def search_executions(
    conn: Connection, query: ExecutionQuery, *, count_bound: int = DEFAULT_COUNT_BOUND
) -> Page[Execution]:
    """Filter, sort and page in SQL; the total is exact up to ``count_bound`` matches, an
    estimate beyond (:func:`~lanner.store.sqlalchemy.counts.bounded_total`)."""
    if query.page < 1 or not 1 <= query.size <= MAX_PAGE_SIZE:
        raise IllegalArgumentError(
            f"page must be ≥ 1 and size between 1 and {MAX_PAGE_SIZE} "
            f"(got page={query.page}, size={query.size})"
        )
    order = []
    for field, is_descending in query.sort or _DEFAULT_SORT:
        column = _SORT_COLUMNS.get(field)
        if column is None:
            raise IllegalArgumentError(
                f"cannot sort executions by {field!r}; use one of {', '.join(_SORT_COLUMNS)}"
            )
        # Unfinished executions (no end date) sort as the latest, on both backends.
        order.append(
            (column.desc().nulls_first() if is_descending else column.asc().nulls_last())
            if column is executions.c.end_date
            else (column.desc() if is_descending else column.asc())
        )
    order.append(executions.c.id.asc())  # a total order: pages neither repeat nor skip rows

    conditions = _search_conditions(query)
    offset = (query.page - 1) * query.size
    counted = capped_count(conn, executions, conditions, bound=count_bound)
    if query.namespace and _sorts_by_start(query) and walks(conn, counted):
        conditions = _search_conditions(query, indexed_namespace=False)
    page = select(executions).where(*conditions).order_by(*order).limit(query.size)
    results = [to_execution(row) for row in conn.execute(page.offset(offset))]
    seen = offset + len(results) + (1 if len(results) == query.size else 0)
    total = bounded_total(
        conn, executions, conditions, bound=count_bound, seen=seen, counted=counted
    )
    return Page(results=results, total=total)


def _sorts_by_start(query: ExecutionQuery) -> bool:
    """Whether the date index gives the page's order (but for ties, sorted as they come)."""
    return (query.sort or _DEFAULT_SORT)[0][0] == "state.startDate"


def delete_execution(conn: Connection, tenant_id: str, execution_id: str) -> bool:
    """Delete the execution and everything that hangs off it; False when absent."""
    result = conn.execute(_DELETE_EXECUTION, {"k_tenant_id": tenant_id, "k_id": execution_id})
    if result.rowcount == 0:
        return False
    for statement in _DELETE_DEPENDENTS:
        conn.execute(statement, {"k_id": execution_id})
    textsearch.delete_lines(conn, [logs.c.execution_id == execution_id])
    return True


def apply_steps(
    conn: Connection,
    steps: Sequence[ExecutionStep],
    job_ids: Sequence[str],
    now: datetime,
    claim: JobClaim | None = None,
    fence: Fence | None = None,
) -> list[Job]:
    """Write every step; all of them or (on any error) none, since the caller's transaction
    or savepoint is rolled back. ``job_ids`` name the steps' jobs, in order; the jobs
    ``claim`` takes are returned. A finished job already gone raises :class:`JobGoneError`;
    with a ``fence``, a leadership lost raises :class:`~lanner.errors.NotLeaderError`."""
    if fence is not None:
        queue.check_fence(conn, fence)
    finished = [job_id for step in steps for job_id in step.finished_jobs]
    if finished:
        gone = set(finished) - queue.finish_jobs(conn, finished)
        if gone:
            raise JobGoneError(f"jobs already finished or deleted: {', '.join(sorted(gone))}")
    latest: dict[str, Execution] = {}
    # Upsert by id: one row per task run, at the place of its first mention, latest content.
    task_runs_of: dict[str, dict[str, TaskRun]] = {}
    for step in steps:
        if step.execution is not None:
            latest[step.execution.id] = step.execution
        for task_run in step.task_runs:
            task_runs_of.setdefault(task_run.execution_id, {})[task_run.id] = task_run
    event_targets = {event.execution_id for step in steps for event in step.events}
    job_targets = {job.execution_id for step in steps for job in step.jobs}
    stored = _lookup(conn, latest.keys() | task_runs_of.keys() | event_targets | job_targets)

    try:
        _write_executions(conn, latest, stored, now)
        _write_task_runs(conn, task_runs_of, stored, now)
    except IntegrityError as exc:
        raise ConflictError(f"cannot apply execution steps: {first_line(exc.orig)}") from None

    # Fair progress: a job is due since its execution started, so the queue hands out the
    # jobs of older executions first (``claim_jobs`` orders by ``available_at``).
    started = {execution_id: s.start_date for execution_id, s in stored.items()}
    started.update((execution_id, e.state.start_date) for execution_id, e in latest.items())
    job_rows = [
        queue.job_values(job_id, job, now, since=started.get(job.execution_id))
        for job_id, job in zip(job_ids, (job for step in steps for job in step.jobs), strict=True)
    ]
    claimed = queue.claim_new_jobs(job_rows, claim, now) if claim is not None else []
    queue.insert_jobs(conn, job_rows)
    tenants = {execution_id: s.tenant_id for execution_id, s in stored.items()}
    tenants.update((execution_id, e.tenant_id) for execution_id, e in latest.items())
    # An event for an execution that no longer exists (a deleted parent) has no reader: dropped.
    queue.insert_events(
        conn,
        [
            queue.event_values(tenants[event.execution_id], event, now)
            for step in steps
            for event in step.events
            if event.execution_id in tenants
        ],
    )
    queue.delete_events(conn, {event_id for step in steps for event_id in step.consumed_events})
    flow_triggers.insert_transitions(conn, [t for step in steps for t in step.transitions])
    return claimed


def _lookup(conn: Connection, execution_ids: Iterable[str]) -> dict[str, _Stored]:
    found: dict[str, _Stored] = {}
    for chunk in queue.chunks(list(execution_ids)):
        for execution_id, tenant_id, labels, last_position, start_date in conn.execute(
            _LOOKUP, {"k_ids": chunk}
        ):
            found[execution_id] = _Stored(tenant_id, labels, last_position, start_date)
    return found


def _write_executions(
    conn: Connection, latest: Mapping[str, Execution], stored: Mapping[str, _Stored], now: datetime
) -> None:
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    relabelled: list[Execution] = []
    for execution_id, execution in latest.items():
        values = execution_values(execution, now)
        previous = stored.get(execution_id)
        if previous is None:
            inserts.append(values)
            relabelled.append(execution)
            continue
        updates.append(
            {k: v for k, v in values.items() if k not in _NOT_SET} | {"k_id": execution_id}
        )
        if previous.labels != values["labels"]:
            relabelled.append(execution)
    _INSERT_EXECUTION.execute(conn, inserts)
    _UPDATE_EXECUTION.execute(conn, updates)
    _DELETE_LABELS.execute(conn, [{"k_execution_id": e.id} for e in relabelled])
    _INSERT_LABEL.execute(
        conn, [row for e in relabelled for row in _label_rows(e.tenant_id, e.id, e.labels)]
    )


def _write_task_runs(
    conn: Connection,
    task_runs_of: Mapping[str, Mapping[str, TaskRun]],
    stored: Mapping[str, _Stored],
    now: datetime,
) -> None:
    rows: list[dict[str, Any]] = []
    for execution_id, by_id in task_runs_of.items():
        previous = stored.get(execution_id)
        last = previous.last_position if previous is not None else None
        # Existing task runs keep their stored position; new ones follow the last one, in order
        # (the numbers skipped by updated task runs leave gaps, never a different order).
        first = 0 if last is None else last + 1
        rows.extend(
            task_run_values(task_run, first + offset, now)
            for offset, task_run in enumerate(by_id.values())
        )
    _UPSERT_TASK_RUN[conn.dialect.name].execute(conn, rows)


def _insert_labels(
    conn: Connection, tenant_id: str, execution_id: str, labels: Sequence[Label]
) -> None:
    _INSERT_LABEL.execute(conn, _label_rows(tenant_id, execution_id, labels))


def _label_rows(tenant_id: str, execution_id: str, labels: Sequence[Label]) -> list[dict[str, str]]:
    pairs = dict.fromkeys((label.key, label.value) for label in labels)
    return [
        {"tenant_id": tenant_id, "execution_id": execution_id, "key": key, "value": value}
        for key, value in pairs
    ]


def _search_conditions(
    query: ExecutionQuery, *, indexed_namespace: bool = True
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        executions.c.tenant_id == query.tenant_id,
        executions.c.deleted.is_(False),
    ]
    if query.namespace:
        conditions.append(
            namespace_and_children(
                executions.c.namespace, query.namespace, indexed=indexed_namespace
            )
        )
    if query.flow_id:
        conditions.append(executions.c.flow_id == query.flow_id)
    if query.states:
        conditions.append(executions.c.state.in_([state.value for state in query.states]))
    if query.q:
        conditions.append(
            or_(
                executions.c.id.icontains(query.q, autoescape=True),
                executions.c.namespace.icontains(query.q, autoescape=True),
                executions.c.flow_id.icontains(query.q, autoescape=True),
            )
        )
    if query.start_date is not None:
        conditions.append(executions.c.start_date >= query.start_date)
    if query.end_date is not None:
        conditions.append(executions.c.start_date <= query.end_date)
    if query.parent_id is not None:
        conditions.append(executions.c.parent_id == query.parent_id)
    for label_key, value in query.labels.items():
        conditions.append(
            exists().where(
                execution_labels.c.execution_id == executions.c.id,
                execution_labels.c.tenant_id == executions.c.tenant_id,
                execution_labels.c.key == label_key,
                execution_labels.c.value == value,
            )
        )
    return conditions


def purge_executions(
    conn: Connection,
    before: datetime,
    *,
    tenant_id: str,
    namespace: str | None = None,
    flow_id: str | None = None,
    states: Sequence[StateType] = (),
    limit: int = PURGE_BATCH,
) -> list[PurgedExecution]:
    """Delete up to ``limit`` ended executions started before ``before``, oldest first, with
    their task runs, labels, events, jobs and log lines (read through the start-date index)."""
    chosen = [state.value for state in states] or [state.value for state in TERMINATED]
    conditions: list[ColumnElement[bool]] = [
        executions.c.tenant_id == tenant_id,
        executions.c.start_date < before,
        executions.c.state.in_(chosen),
    ]
    if namespace:
        conditions.append(namespace_and_children(executions.c.namespace, namespace))
    if flow_id is not None:
        conditions.append(executions.c.flow_id == flow_id)
    rows = conn.execute(
        select(executions.c.id, executions.c.namespace, executions.c.flow_id)
        .where(*conditions)
        .order_by(executions.c.start_date)
        .limit(limit)
    ).all()
    purged = [PurgedExecution(tenant_id, row.namespace, row.flow_id, row.id) for row in rows]
    ids = [execution.id for execution in purged]
    if ids:
        for table in _DEPENDENTS:
            conn.execute(delete(table).where(table.c.execution_id.in_(ids)))
        textsearch.delete_lines(conn, [logs.c.execution_id.in_(ids)])
        conn.execute(delete(executions).where(executions.c.id.in_(ids)))
    return purged


def execution_tenants(conn: Connection) -> list[str]:
    """Every tenant with an execution: a loose index scan (one index seek per tenant)."""
    found: list[str] = []
    while True:
        stmt = select(func.min(executions.c.tenant_id))
        if found:
            stmt = stmt.where(executions.c.tenant_id > found[-1])
        tenant: str | None = conn.execute(stmt).scalar()
        if tenant is None:
            return found
        found.append(tenant)


def nth_newest_start(conn: Connection, tenant_id: str, keep: int) -> datetime | None:
    """The start date of the ``keep``-th newest execution of the tenant, if it has more."""
    start: datetime | None = conn.execute(
        select(executions.c.start_date)
        .where(executions.c.tenant_id == tenant_id)
        .order_by(executions.c.start_date.desc())
        .limit(1)
        .offset(keep - 1)
    ).scalar()
    return start


RECLAIM_PAGES = 2048
"""Free SQLite pages (4 KiB each) given back to the file system per call."""


def reclaim_space(conn: Connection) -> int:
    """SQLite: ``PRAGMA incremental_vacuum`` of up to :data:`RECLAIM_PAGES` pages; the free
    pages left. PostgreSQL: 0 (autovacuum reuses the space)."""
    if conn.dialect.name != "sqlite":
        return 0
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        remaining: int = cursor.execute("PRAGMA freelist_count").fetchone()[0]
        # The driver steps this pragma once per execute, and each step frees one page.
        for _ in range(min(remaining, RECLAIM_PAGES)):
            cursor.execute("PRAGMA incremental_vacuum(1)")
        remaining = cursor.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        cursor.close()
    return remaining
