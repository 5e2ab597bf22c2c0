"""Flow triggers' queries: transitions (inserted by ``apply_steps``, read and settled by the
flow-trigger role) and the windows of multiple conditions (replaced as a whole: delete, insert).

Imports SQLAlchemy, the schema and the store protocols; never the engine or the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select

from lanner.domain.states import StateType
from lanner.store.protocols.flow_triggers import Transition, TriggerWindow, WindowKey
from lanner.store.protocols.flows import StoredFlow
from lanner.store.sqlalchemy.flows import to_stored_flow
from lanner.store.sqlalchemy.schema import flow_trigger_transitions as transitions
from lanner.store.sqlalchemy.schema import flow_trigger_windows as windows
from lanner.store.sqlalchemy.schema import flows

_KEY_COLUMNS = ("tenant_id", "namespace", "flow_id", "trigger_id", "condition_id")

_DELETE_WINDOW = delete(windows).where(
    and_(*(windows.c[name] == bindparam(f"k_{name}") for name in _KEY_COLUMNS))
)
_DELETE_TRANSITION = delete(transitions).where(transitions.c.id == bindparam("k_id"))


def transition_values(transition: Transition) -> dict[str, Any]:
    """The ``flow_trigger_transitions`` columns of ``transition`` (its id is the store's)."""
    return {
        "tenant_id": transition.tenant_id,
        "execution_id": transition.execution_id,
        "namespace": transition.namespace,
        "flow_id": transition.flow_id,
        "state": transition.state.value,
        "at": transition.at,
    }


def insert_transitions(conn: Connection, rows: Sequence[Transition]) -> None:
    """Insert transitions in one ``executemany`` (inside the caller's transaction)."""
    if rows:
        conn.execute(insert(transitions), [transition_values(row) for row in rows])


def pending_transitions(conn: Connection, limit: int) -> list[Transition]:
    """The oldest ``limit`` transitions, oldest first."""
    rows = conn.execute(select(transitions).order_by(transitions.c.id).limit(limit))
    return [
        Transition(
            tenant_id=row.tenant_id,
            execution_id=row.execution_id,
            namespace=row.namespace,
            flow_id=row.flow_id,
            state=StateType(row.state),
            at=row.at,
            id=row.id,
        )
        for row in rows
    ]


def _key_params(key: WindowKey) -> dict[str, str]:
    return {f"k_{name}": getattr(key, name) for name in _KEY_COLUMNS}


def settle_transition(
    conn: Connection,
    transition_id: int,
    *,
    save: Sequence[TriggerWindow] = (),
    delete: Sequence[WindowKey] = (),
) -> None:
    """Delete the transition; unless it was gone already, replace ``save`` and drop ``delete``."""
    if conn.execute(_DELETE_TRANSITION, {"k_id": transition_id}).rowcount == 0:
        return  # settled before (a replayed batch): its windows were written then
    keys = [window.key for window in save] + list(delete)
    if keys:
        conn.execute(_DELETE_WINDOW, [_key_params(key) for key in keys])
    if save:
        conn.execute(
            insert(windows),
            [
                {
                    **{name: getattr(window.key, name) for name in _KEY_COLUMNS},
                    "start_date": window.start,
                    "end_date": window.end,
                    "results": dict(window.results),
                }
                for window in save
            ],
        )


def get_windows(
    conn: Connection, tenant_id: str, namespace: str, flow_id: str
) -> list[TriggerWindow]:
    """The windows of one downstream flow, by trigger then condition id."""
    rows = conn.execute(
        select(windows)
        .where(
            windows.c.tenant_id == tenant_id,
            windows.c.namespace == namespace,
            windows.c.flow_id == flow_id,
        )
        .order_by(windows.c.trigger_id, windows.c.condition_id)
    )
    return [
        TriggerWindow(
            key=WindowKey(
                row.tenant_id, row.namespace, row.flow_id, row.trigger_id, row.condition_id
            ),
            start=row.start_date,
            end=row.end_date,
            results={str(k): bool(v) for k, v in (row.results or {}).items()},
        )
        for row in rows
    ]


def purge_windows(conn: Connection, before: datetime) -> int:
    """Delete the windows that ended before ``before``."""
    return int(conn.execute(delete(windows).where(windows.c.end_date < before)).rowcount or 0)


def changed_flows(conn: Connection, since: datetime | None) -> list[StoredFlow]:
    """Current revisions (deleted ones too) updated at or after ``since`` (all: None)."""
    query = select(flows)
    if since is not None:
        query = query.where(flows.c.updated >= since)
    return [to_stored_flow(row) for row in conn.execute(query.order_by(flows.c.updated))]
