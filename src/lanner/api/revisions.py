"""Writing flows as revisions: create, update, upsert and delete on top of the store's
compare-and-set, so concurrent writers never lose an update and identical sources add nothing.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import partial

from lanner.api.deadlines import off_loop, yaml_limits
from lanner.config import Settings
from lanner.errors import (
    ConcurrentUpdateError,
    ConflictError,
    ErrorDetail,
    InvalidFlowError,
    NotFoundError,
)
from lanner.flows import Flow, flow_document, parse_flow, parse_for_save
from lanner.store import NewFlowRevision, Store, StoredFlow

MAX_CAS_ATTEMPTS = 8

_DISABLED_LINE = re.compile(r"^disabled\s*:.*$", re.MULTILINE)


class SaveMode(Enum):
    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"


def _invalid(path: str, message: str) -> InvalidFlowError:
    return InvalidFlowError(f"Invalid entity: {path}: {message}", [ErrorDetail(path, message)])


def check_identity(flow: Flow, namespace: str | None, flow_id: str | None) -> None:
    """A flow saved at ``/flows/{namespace}/{id}`` must carry that namespace and id."""
    if namespace is not None and flow.namespace != namespace:
        raise _invalid("flow.namespace", "Illegal namespace update")
    if flow_id is not None and flow.id != flow_id:
        raise _invalid("flow.id", "Illegal flow id update")


def _revision_of(flow: Flow, tenant: str, source: str, *, deleted: bool = False) -> NewFlowRevision:
    return NewFlowRevision(
        tenant_id=tenant,
        namespace=flow.namespace,
        id=flow.id,
        source=source,
        document=flow_document(flow),
        disabled=bool(flow.disabled),
        deleted=deleted,
        labels={label.key: label.value for label in flow.labels},
    )


async def save_parsed(
    store: Store, tenant: str, flow: Flow, source: str, mode: SaveMode
) -> tuple[StoredFlow, bool]:
    """Store ``flow`` as a new revision when its source changed; ``(stored, changed)``."""
    for _ in range(MAX_CAS_ATTEMPTS):
        latest = await store.get_flow(tenant, flow.namespace, flow.id, allow_deleted=True)
        exists = latest is not None and not latest.deleted
        if mode is SaveMode.CREATE and exists:
            raise _invalid("flow.id", "Flow id already exists")
        if mode is SaveMode.UPDATE and not exists:
            raise NotFoundError(f"Flow '{flow.namespace}.{flow.id}' not found")
        if exists and latest is not None and latest.source == source:
            return latest, False
        try:
            stored = await store.add_flow_revision(
                _revision_of(flow, tenant, source),
                expected_revision=latest.revision if latest is not None else None,
            )
        except ConcurrentUpdateError:
            continue
        return stored, True
    raise ConflictError(f"Flow '{flow.namespace}.{flow.id}' is being updated concurrently")


async def save_source(
    store: Store,
    tenant: str,
    source: str,
    mode: SaveMode,
    *,
    settings: Settings,
    namespace: str | None = None,
    flow_id: str | None = None,
) -> StoredFlow:
    """Parse ``source`` (in a thread, within the limits) and store it; raises
    :class:`InvalidFlowError` with every problem."""
    flow = await off_loop(settings, partial(parse_for_save, source, limits=yaml_limits(settings)))
    check_identity(flow, namespace, flow_id)
    stored, _ = await save_parsed(store, tenant, flow, source, mode)
    return stored


async def delete_flow(store: Store, tenant: str, namespace: str, flow_id: str) -> StoredFlow:
    """Soft delete: a new revision marked deleted. 404 when absent or already deleted."""
    for _ in range(MAX_CAS_ATTEMPTS):
        latest = await store.get_flow(tenant, namespace, flow_id)
        if latest is None:
            raise NotFoundError(f"Flow '{namespace}.{flow_id}' not found")
        try:
            return await store.add_flow_revision(
                NewFlowRevision(
                    tenant_id=tenant,
                    namespace=namespace,
                    id=flow_id,
                    source=latest.source,
                    document=latest.document,
                    disabled=latest.disabled,
                    deleted=True,
                    labels=latest.labels,
                ),
                expected_revision=latest.revision,
            )
        except ConcurrentUpdateError:
            continue
    raise ConflictError(f"Flow '{namespace}.{flow_id}' is being updated concurrently")


def with_disabled(source: str, disabled: bool) -> str:
    """``source`` with its top-level ``disabled:`` set, keeping the rest of the text as written."""
    line = f"disabled: {'true' if disabled else 'false'}"
    if _DISABLED_LINE.search(source):
        return _DISABLED_LINE.sub(line, source, count=1)
    return source.rstrip("\n") + "\n" + line + "\n"


async def set_disabled(
    store: Store, tenant: str, namespace: str, flow_id: str, disabled: bool, settings: Settings
) -> StoredFlow | None:
    """Enable or disable a flow as a new revision; ``None`` when the flow does not exist."""
    latest = await store.get_flow(tenant, namespace, flow_id)
    if latest is None:
        return None
    if latest.disabled == disabled:
        return latest
    source = with_disabled(latest.source, disabled)
    flow = await off_loop(settings, parse_flow, source)
    stored, _ = await save_parsed(store, tenant, flow, source, SaveMode.UPDATE)
    return stored
