"""Trigger state and lease queries: sync functions of a SQLAlchemy ``Connection``.

A trigger row's ``last_evaluated`` is Kestra's ``date``; ``context`` holds what needs no
column of its own (``stopAfter``, ``evaluateRunningDate``, ``workerId``); ``backfill`` the
backfill as Kestra writes it. Writes are compare-and-set on ``revision``. A lease is one
``leases`` row, taken by an upsert that only overwrites an expired or own row (atomic on both
dialects). Imports SQLAlchemy, the schema, the store protocols and the domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from lanner.domain.labels import Label
from lanner.errors import ConcurrentUpdateError, IllegalArgumentError
from lanner.store.protocols.flows import StoredFlow
from lanner.store.protocols.pages import Page
from lanner.store.protocols.triggers import Backfill, TriggerQuery, TriggerState
from lanner.store.sqlalchemy.schema import flows, leases, triggers

MAX_PAGE_SIZE = 10_000
LEASE_TENANT = ""
"""Leases are server-wide: their rows carry no tenant."""
SCHEDULE_MARKER = "trigger.Schedule"
"""Every schedule trigger type (``…trigger.Schedule``, ``…trigger.ScheduleOnDates``, the
legacy ``…triggers.types.Schedule``) contains one of these."""
LEGACY_MARKER = "types.Schedule"

_SORT_COLUMNS = {
    "namespace": triggers.c.namespace,
    "flowId": triggers.c.flow_id,
    "triggerId": triggers.c.trigger_id,
    "nextExecutionDate": triggers.c.next_execution_date,
    "date": triggers.c.last_evaluated,
}
_ORDER = (triggers.c.tenant_id, triggers.c.namespace, triggers.c.flow_id, triggers.c.trigger_id)


def _where_key(tenant_id: str, namespace: str, flow_id: str, trigger_id: str) -> Any:
    return (
        (triggers.c.tenant_id == tenant_id)
        & (triggers.c.namespace == namespace)
        & (triggers.c.flow_id == flow_id)
        & (triggers.c.trigger_id == trigger_id)
    )


def get_trigger(
    conn: Connection, tenant_id: str, namespace: str, flow_id: str, trigger_id: str
) -> TriggerState | None:
    row = conn.execute(
        select(triggers).where(_where_key(tenant_id, namespace, flow_id, trigger_id))
    ).first()
    return None if row is None else _to_state(row)


def list_triggers(
    conn: Connection,
    tenant_id: str | None = None,
    namespace: str | None = None,
    flow_id: str | None = None,
) -> list[TriggerState]:
    stmt = select(triggers)
    if tenant_id is not None:
        stmt = stmt.where(triggers.c.tenant_id == tenant_id)
    if namespace is not None:
        stmt = stmt.where(triggers.c.namespace == namespace)
    if flow_id is not None:
        stmt = stmt.where(triggers.c.flow_id == flow_id)
    return [_to_state(row) for row in conn.execute(stmt.order_by(*_ORDER))]


def search_triggers(conn: Connection, query: TriggerQuery) -> Page[TriggerState]:
    if query.page < 1 or not 1 <= query.size <= MAX_PAGE_SIZE:
        raise IllegalArgumentError(
            f"page must be ≥ 1 and size between 1 and {MAX_PAGE_SIZE} "
            f"(got page={query.page}, size={query.size})"
        )
    order = []
    for field, is_descending in query.sort:
        column = _SORT_COLUMNS.get(field)
        if column is None:
            raise IllegalArgumentError(
                f"cannot sort triggers by {field!r}; use one of {', '.join(_SORT_COLUMNS)}"
            )
        order.append(column.desc() if is_descending else column.asc())
    conditions: list[ColumnElement[bool]] = [triggers.c.tenant_id == query.tenant_id]
    if query.namespace:
        conditions.append(
            or_(
                triggers.c.namespace == query.namespace,
                triggers.c.namespace.startswith(query.namespace + ".", autoescape=True),
            )
        )
    if query.flow_id:
        conditions.append(triggers.c.flow_id == query.flow_id)
    if query.q:
        conditions.append(
            or_(
                triggers.c.flow_id.icontains(query.q, autoescape=True),
                triggers.c.trigger_id.icontains(query.q, autoescape=True),
                triggers.c.namespace.icontains(query.q, autoescape=True),
            )
        )
    if query.worker_id:
        return Page(results=[], total=0)  # no trigger is evaluated by a worker here
    total = conn.execute(select(func.count()).select_from(triggers).where(*conditions)).scalar_one()
    rows = conn.execute(
        select(triggers)
        .where(*conditions)
        .order_by(*order, *_ORDER)
        .limit(query.size)
        .offset((query.page - 1) * query.size)
    )
    return Page(results=[_to_state(row) for row in rows], total=total)


def save_trigger(
    conn: Connection, now: datetime, state: TriggerState, *, expected_revision: int | None
) -> TriggerState:
    values = _to_values(state, now)
    saved = TriggerState(**{**_fields(state), "updated": now})
    if expected_revision is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(triggers).values(**values, revision=1))
        except IntegrityError:
            raise _conflict(state, "it exists already") from None
        return _with_revision(saved, 1)
    result = conn.execute(
        update(triggers)
        .where(*_key_of(state), triggers.c.revision == expected_revision)
        .values(**values, revision=expected_revision + 1)
    )
    if result.rowcount != 1:
        raise _conflict(state, f"it is not at revision {expected_revision}")
    return _with_revision(saved, expected_revision + 1)


def delete_trigger(
    conn: Connection, tenant_id: str, namespace: str, flow_id: str, trigger_id: str
) -> bool:
    result = conn.execute(
        delete(triggers).where(_where_key(tenant_id, namespace, flow_id, trigger_id))
    )
    return bool(result.rowcount)


def list_scheduled_flows(conn: Connection) -> list[StoredFlow]:
    rows = conn.execute(
        select(flows)
        .where(
            flows.c.deleted.is_(False),
            or_(flows.c.source.contains(SCHEDULE_MARKER), flows.c.source.contains(LEGACY_MARKER)),
        )
        .order_by(flows.c.tenant_id, flows.c.namespace, flows.c.flow_id)
    )
    return [
        StoredFlow(
            tenant_id=row.tenant_id,
            namespace=row.namespace,
            id=row.flow_id,
            revision=row.revision,
            source=row.source,
            document=row.document,
            deleted=row.deleted,
            disabled=row.disabled,
            updated=row.updated,
            labels=row.labels,
        )
        for row in rows
    ]


def flows_version(conn: Connection) -> tuple[int, datetime | None]:
    row = conn.execute(select(func.count(), func.max(flows.c.updated)).select_from(flows)).one()
    latest = row[1]
    if isinstance(latest, str):  # SQLite's max() of a timestamp column comes back as text
        latest = datetime.fromisoformat(latest)
    return int(row[0]), latest


# --- leases ----------------------------------------------------------------------------------


def _lease_upsert(make_insert: Any) -> Any:
    stmt = make_insert(leases)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[leases.c.tenant_id, leases.c.name],
        set_={
            "holder": excluded.holder,
            "expires": excluded.expires,
            "acquired": excluded.acquired,
        },
        where=or_(leases.c.holder == excluded.holder, leases.c.expires <= excluded.acquired),
    ).returning(leases.c.holder)


_LEASE_UPSERT = {
    "sqlite": _lease_upsert(sqlite.insert),
    "postgresql": _lease_upsert(postgresql.insert),
}


def acquire_lease(conn: Connection, now: datetime, name: str, holder: str, ttl: timedelta) -> bool:
    row = conn.execute(
        _LEASE_UPSERT[conn.dialect.name],
        {
            "tenant_id": LEASE_TENANT,
            "name": name,
            "holder": holder,
            "acquired": now,
            "expires": now + ttl,
        },
    ).first()
    return row is not None and row.holder == holder


def release_lease(conn: Connection, name: str, holder: str) -> None:
    conn.execute(
        delete(leases).where(
            leases.c.tenant_id == LEASE_TENANT, leases.c.name == name, leases.c.holder == holder
        )
    )


# --- rows ------------------------------------------------------------------------------------


def _key_of(state: TriggerState) -> tuple[Any, ...]:
    return (
        triggers.c.tenant_id == state.tenant_id,
        triggers.c.namespace == state.namespace,
        triggers.c.flow_id == state.flow_id,
        triggers.c.trigger_id == state.trigger_id,
    )


def _fields(state: TriggerState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in TriggerState.__dataclass_fields__}


def _with_revision(state: TriggerState, revision: int) -> TriggerState:
    return TriggerState(**{**_fields(state), "revision": revision})


def _conflict(state: TriggerState, found: str) -> ConcurrentUpdateError:
    return ConcurrentUpdateError(
        f"trigger {state.namespace}.{state.flow_id}.{state.trigger_id} changed concurrently: "
        f"{found}"
    )


def _to_values(state: TriggerState, now: datetime) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if state.stop_after:
        context["stopAfter"] = list(state.stop_after)
    if state.evaluate_running_date is not None:
        context["evaluateRunningDate"] = state.evaluate_running_date.isoformat()
    if state.worker_id is not None:
        context["workerId"] = state.worker_id
    return {
        "tenant_id": state.tenant_id,
        "namespace": state.namespace,
        "flow_id": state.flow_id,
        "trigger_id": state.trigger_id,
        "flow_revision": state.flow_revision,
        "next_execution_date": state.next_execution_date,
        "last_evaluated": state.date,
        "execution_id": state.execution_id,
        "disabled": state.disabled,
        "backfill": None if state.backfill is None else _backfill_document(state.backfill),
        "context": context or None,
        "updated": now,
    }


def _backfill_document(backfill: Backfill) -> dict[str, Any]:
    previous = backfill.previous_next_execution_date
    return {
        "start": backfill.start.isoformat(),
        "end": backfill.end.isoformat(),
        "currentDate": backfill.current_date.isoformat(),
        "created": backfill.created.isoformat(),
        "paused": backfill.paused,
        "inputs": dict(backfill.inputs),
        "labels": [label.to_json() for label in backfill.labels],
        "previousNextExecutionDate": None if previous is None else previous.isoformat(),
    }


def _backfill_of(document: Mapping[str, Any]) -> Backfill:
    previous = document.get("previousNextExecutionDate")
    return Backfill(
        start=datetime.fromisoformat(document["start"]),
        end=datetime.fromisoformat(document["end"]),
        current_date=datetime.fromisoformat(document["currentDate"]),
        created=datetime.fromisoformat(document["created"]),
        paused=bool(document.get("paused", False)),
        inputs=dict(document.get("inputs") or {}),
        labels=tuple(Label(str(x["key"]), str(x["value"])) for x in document.get("labels") or ()),
        previous_next_execution_date=None if previous is None else datetime.fromisoformat(previous),
    )


def _to_state(row: Row[Any]) -> TriggerState:
    context: Mapping[str, Any] = row.context or {}
    running = context.get("evaluateRunningDate")
    return TriggerState(
        tenant_id=row.tenant_id,
        namespace=row.namespace,
        flow_id=row.flow_id,
        trigger_id=row.trigger_id,
        date=row.last_evaluated,
        next_execution_date=row.next_execution_date,
        execution_id=row.execution_id,
        disabled=row.disabled,
        backfill=None if row.backfill is None else _backfill_of(row.backfill),
        stop_after=tuple(context.get("stopAfter") or ()),
        flow_revision=row.flow_revision,
        evaluate_running_date=None if running is None else datetime.fromisoformat(running),
        worker_id=context.get("workerId"),
        updated=row.updated,
        revision=row.revision,
    )
