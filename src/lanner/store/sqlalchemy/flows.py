"""Flow queries: sync functions of a SQLAlchemy ``Connection``, run on the writer or a reader.

The ``flows`` table holds the current revision of every flow (one-row "latest" reads),
``flow_revisions`` every revision, ``flow_labels`` the current labels (indexed label filters);
a write touches all three in the writer's transaction. Fixed statements are built once, at
import. Imports SQLAlchemy, the schema and the store protocols; never the engine or the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from lanner.errors import ConcurrentUpdateError, IllegalArgumentError
from lanner.store.protocols.flows import FlowQuery, NewFlowRevision, StoredFlow
from lanner.store.protocols.pages import Page
from lanner.store.sqlalchemy.counts import DEFAULT_COUNT_BOUND, bounded_total
from lanner.store.sqlalchemy.schema import flow_labels, flow_revisions, flows

MAX_PAGE_SIZE = 10_000

_SORT_COLUMNS = {
    "id": flows.c.flow_id,
    "namespace": flows.c.namespace,
    "revision": flows.c.revision,
    "updated": flows.c.updated,
}

_IS_CURRENT_KEY = and_(
    flows.c.tenant_id == bindparam("k_tenant_id"),
    flows.c.namespace == bindparam("k_namespace"),
    flows.c.flow_id == bindparam("k_flow_id"),
)
_IS_REVISION_KEY = and_(
    flow_revisions.c.tenant_id == bindparam("k_tenant_id"),
    flow_revisions.c.namespace == bindparam("k_namespace"),
    flow_revisions.c.flow_id == bindparam("k_flow_id"),
)

_SELECT_CURRENT = select(flows).where(_IS_CURRENT_KEY)
_SELECT_REVISION = select(flow_revisions).where(
    _IS_REVISION_KEY, flow_revisions.c.revision == bindparam("k_revision")
)
_SELECT_REVISIONS = (
    select(flow_revisions).where(_IS_REVISION_KEY).order_by(flow_revisions.c.revision)
)
_SELECT_LATEST_REVISION = select(flows.c.revision).where(_IS_CURRENT_KEY)
_INSERT_CURRENT = insert(flows)
_UPDATE_CURRENT = (
    update(flows)
    .where(_IS_CURRENT_KEY, flows.c.revision == bindparam("k_expected"))
    .values(
        revision=bindparam("revision"),
        source=bindparam("source"),
        document=bindparam("document"),
        labels=bindparam("labels"),
        deleted=bindparam("deleted"),
        disabled=bindparam("disabled"),
        updated=bindparam("updated"),
    )
)
_INSERT_REVISION = insert(flow_revisions)
_DELETE_LABELS = delete(flow_labels).where(
    flow_labels.c.tenant_id == bindparam("k_tenant_id"),
    flow_labels.c.namespace == bindparam("k_namespace"),
    flow_labels.c.flow_id == bindparam("k_flow_id"),
)
_INSERT_LABEL = insert(flow_labels)
_IS_LIVE = flows.c.deleted.is_(False)
_LIST_ALL = (
    select(flows)
    .where(flows.c.tenant_id == bindparam("k_tenant_id"), _IS_LIVE)
    .order_by(flows.c.namespace, flows.c.flow_id)
)
_LIST_NAMESPACE = (
    select(flows)
    .where(
        flows.c.tenant_id == bindparam("k_tenant_id"),
        flows.c.namespace == bindparam("k_namespace"),
        _IS_LIVE,
    )
    .order_by(flows.c.flow_id)
)


def get_flow(
    conn: Connection,
    tenant_id: str,
    namespace: str,
    flow_id: str,
    *,
    revision: int | None = None,
    allow_deleted: bool = False,
) -> StoredFlow | None:
    """The current revision, or revision ``revision``; deletions only when ``allow_deleted``."""
    key = _key(tenant_id, namespace, flow_id)
    if revision is None:
        row = conn.execute(_SELECT_CURRENT, key).first()
    else:
        row = conn.execute(_SELECT_REVISION, {**key, "k_revision": revision}).first()
    if row is None or (row.deleted and not allow_deleted):
        return None
    return _to_flow(row)


def add_flow_revision(
    conn: Connection, now: datetime, flow: NewFlowRevision, *, expected_revision: int | None
) -> StoredFlow:
    """Compare-and-set: append revision ``expected_revision + 1`` or raise ConcurrentUpdateError."""
    key = _key(flow.tenant_id, flow.namespace, flow.id)
    revision = 1 if expected_revision is None else expected_revision + 1
    row: dict[str, Any] = {
        "tenant_id": flow.tenant_id,
        "namespace": flow.namespace,
        "flow_id": flow.id,
        "revision": revision,
        "source": flow.source,
        "document": dict(flow.document),
        "labels": dict(flow.labels),
        "deleted": flow.deleted,
        "disabled": flow.disabled,
        "updated": now,
    }
    if expected_revision is None:
        try:
            conn.execute(_INSERT_CURRENT, row)
        except IntegrityError:
            raise _conflict(flow, expected_revision, "it already exists") from None
    else:
        result = conn.execute(_UPDATE_CURRENT, {**row, **key, "k_expected": expected_revision})
        if result.rowcount != 1:
            latest = conn.execute(_SELECT_LATEST_REVISION, key).scalar()
            found = "it does not exist" if latest is None else f"its latest is {latest}"
            raise _conflict(flow, expected_revision, found)
    conn.execute(_INSERT_REVISION, row)
    conn.execute(_DELETE_LABELS, key)
    if flow.labels and not flow.deleted:
        conn.execute(
            _INSERT_LABEL,
            [
                {
                    "tenant_id": flow.tenant_id,
                    "namespace": flow.namespace,
                    "flow_id": flow.id,
                    "key": label_key,
                    "value": value,
                }
                for label_key, value in flow.labels.items()
            ],
        )
    return StoredFlow(
        tenant_id=flow.tenant_id,
        namespace=flow.namespace,
        id=flow.id,
        revision=revision,
        source=flow.source,
        document=row["document"],
        deleted=flow.deleted,
        disabled=flow.disabled,
        updated=now,
        labels=row["labels"],
    )


def list_flow_revisions(
    conn: Connection, tenant_id: str, namespace: str, flow_id: str
) -> list[StoredFlow]:
    """Every revision of a flow, oldest first."""
    rows = conn.execute(_SELECT_REVISIONS, _key(tenant_id, namespace, flow_id))
    return [_to_flow(row) for row in rows]


def list_flows(conn: Connection, tenant_id: str, namespace: str | None = None) -> list[StoredFlow]:
    """Current non-deleted flows of one namespace (or all), by namespace then id."""
    if namespace is None:
        rows = conn.execute(_LIST_ALL, {"k_tenant_id": tenant_id})
    else:
        rows = conn.execute(_LIST_NAMESPACE, {"k_tenant_id": tenant_id, "k_namespace": namespace})
    return [_to_flow(row) for row in rows]


def search_flows(
    conn: Connection, query: FlowQuery, *, count_bound: int = DEFAULT_COUNT_BOUND
) -> Page[StoredFlow]:
    """Filter, sort and page in SQL; the total is exact up to ``count_bound`` matches."""
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
                f"cannot sort flows by {field!r}; use one of {', '.join(_SORT_COLUMNS)}"
            )
        order.append(column.desc() if is_descending else column.asc())
    # A total order, so that pages neither repeat nor skip rows.
    order += [flows.c.namespace.asc(), flows.c.flow_id.asc()]

    conditions = _search_conditions(query)
    offset = (query.page - 1) * query.size
    rows = conn.execute(
        select(flows).where(*conditions).order_by(*order).limit(query.size).offset(offset)
    )
    results = [_to_flow(row) for row in rows]
    seen = offset + len(results) + (1 if len(results) == query.size else 0)
    total = bounded_total(conn, flows, conditions, bound=count_bound, seen=seen)
    return Page(results=results, total=total)


def distinct_namespaces(conn: Connection, tenant_id: str, q: str | None = None) -> list[str]:
    """Sorted namespaces holding a non-deleted flow, optionally containing ``q``."""
    stmt = select(flows.c.namespace).distinct().where(flows.c.tenant_id == tenant_id, _IS_LIVE)
    if q:
        stmt = stmt.where(flows.c.namespace.icontains(q, autoescape=True))
    return list(conn.execute(stmt.order_by(flows.c.namespace)).scalars())


def _search_conditions(query: FlowQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [flows.c.tenant_id == query.tenant_id, _IS_LIVE]
    if query.namespace:
        conditions.append(
            or_(
                flows.c.namespace == query.namespace,
                flows.c.namespace.startswith(query.namespace + ".", autoescape=True),
            )
        )
    if query.q:
        conditions.append(
            or_(
                flows.c.flow_id.icontains(query.q, autoescape=True),
                flows.c.namespace.icontains(query.q, autoescape=True),
            )
        )
    for label_key, value in query.labels.items():
        conditions.append(
            exists().where(
                flow_labels.c.tenant_id == flows.c.tenant_id,
                flow_labels.c.namespace == flows.c.namespace,
                flow_labels.c.flow_id == flows.c.flow_id,
                flow_labels.c.key == label_key,
                flow_labels.c.value == value,
            )
        )
    return conditions


def _key(tenant_id: str, namespace: str, flow_id: str) -> dict[str, str]:
    return {"k_tenant_id": tenant_id, "k_namespace": namespace, "k_flow_id": flow_id}


def _conflict(
    flow: NewFlowRevision, expected_revision: int | None, found: str
) -> ConcurrentUpdateError:
    expected = "no revision" if expected_revision is None else f"revision {expected_revision}"
    return ConcurrentUpdateError(
        f"flow {flow.namespace}.{flow.id} changed concurrently: expected {expected}, but {found}"
    )


def _to_flow(row: Row[Any]) -> StoredFlow:
    return StoredFlow(
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


to_stored_flow = _to_flow
"""A ``flows`` (or ``flow_revisions``) row as a :class:`StoredFlow` (other query modules)."""
