"""The triggers API: ``/triggers/...`` (reference §3.8, Kestra 0.20 to 1.x paths and shapes).

Search (``{abstractTrigger, triggerContext}`` pages), a flow's triggers, ``PUT /triggers``
(enable/disable; a ``backfill`` of a Schedule trigger), enable/disable by triggers and by query,
unlock (one, by triggers, by query), restart, backfill pause/unpause/delete (one, by triggers,
by query), and deleting a trigger's state. Every change is a compare-and-set on the trigger's
row, then a wake-up of the scheduler (``TRIGGERS_TOPIC``). A trigger's JSON is Kestra's
``Trigger`` context (null fields left out). Imports the API's context and helpers, the domain,
the engine's schedule decision and the store protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from lanner.api import models
from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.ids import FlowIdPath, NamespacePath, TaskIdPath
from lanner.api.models import json_body, ok
from lanner.api.problems import error_responses
from lanner.api.queries import PageParam, SizeParam, check_paging, parse_sort
from lanner.api.wire import JsonResponse, paged
from lanner.domain.times import format_instant
from lanner.engine.crons import CronError, zone_of
from lanner.engine.scheduler import TRIGGERS_TOPIC
from lanner.engine.schedules import (
    SCHEDULE_TYPE,
    ScheduleSpecError,
    iso_in,
    labels_of,
    parse_date,
    recover_missed,
    schedule_spec,
    start_backfill,
)
from lanner.engine.submit import parsed_flow
from lanner.errors import (
    BadRequestError,
    ConcurrentUpdateError,
    ConflictError,
    ErrorDetail,
    IllegalArgumentError,
    NotFoundError,
)
from lanner.flows.parser import FLOW_ID_MAX, FLOW_ID_RE, NAMESPACE_MAX, NAMESPACE_RE
from lanner.flows.specs import TASK_ID_RE
from lanner.store import Backfill, Store, TriggerQuery, TriggerState

router = APIRouter(tags=["Triggers"], default_response_class=JsonResponse)

PREFIX = "/triggers"
SORTABLE = ("namespace", "flowId", "triggerId", "nextExecutionDate", "date")
MAX_CAS_ATTEMPTS = 8
BULK_PAGE_SIZE = 10_000

_ID_RULES = {
    "namespace": (NAMESPACE_RE, NAMESPACE_MAX),
    "flowId": (FLOW_ID_RE, FLOW_ID_MAX),
    "triggerId": (TASK_ID_RE, FLOW_ID_MAX),
}
TRIGGER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{
            name: {"type": "string", "pattern": f"^{rule.pattern}$", "maxLength": most}
            for name, (rule, most) in _ID_RULES.items()
        },
        "disabled": {"type": "boolean"},
        "backfill": {
            "type": ["object", "null"],
            "properties": {
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": ["string", "null"], "format": "date-time"},
                "inputs": {"type": ["object", "null"]},
                "labels": {"type": ["array", "object", "null"]},
            },
            "required": ["start"],
        },
    },
    "required": ["namespace", "flowId", "triggerId"],
}
KEY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: TRIGGER_SCHEMA["properties"][name] for name in _ID_RULES},
    "required": list(_ID_RULES),
}
TRIGGER_BODY = json_body(TRIGGER_SCHEMA)
KEY_BODY = json_body(KEY_SCHEMA)
TRIGGERS_BODY = json_body({"type": "array", "items": KEY_SCHEMA})
SET_DISABLED_BODY = json_body(
    {
        "type": "object",
        "properties": {
            "triggers": {"type": "array", "items": KEY_SCHEMA},
            "disabled": {"type": "boolean"},
        },
        "required": ["triggers", "disabled"],
    }
)


_UTC = ZoneInfo("UTC")


def _date(value: datetime | None) -> str | None:
    return None if value is None else iso_in(value, _UTC)


def trigger_json(state: TriggerState) -> dict[str, Any]:
    """Kestra's ``Trigger`` (runtime context); null fields left out."""
    backfill = None
    if state.backfill is not None:
        b = state.backfill
        backfill = {
            "start": _date(b.start),
            "end": _date(b.end),
            "currentDate": _date(b.current_date),
            "paused": b.paused,
            "inputs": dict(b.inputs),
            "labels": [label.to_json() for label in b.labels],
            "previousNextExecutionDate": _date(b.previous_next_execution_date),
        }
        backfill = {k: v for k, v in backfill.items() if v is not None}
    body: dict[str, Any] = {
        "tenantId": state.tenant_id,
        "namespace": state.namespace,
        "flowId": state.flow_id,
        "triggerId": state.trigger_id,
        "date": _date(state.date),
        "nextExecutionDate": _date(state.next_execution_date),
        "backfill": backfill,
        "stopAfter": list(state.stop_after) or None,
        "disabled": state.disabled,
        "executionId": state.execution_id,
        "updatedDate": None if state.updated is None else format_instant(state.updated),
        "evaluateRunningDate": _date(state.evaluate_running_date),
        "workerId": state.worker_id,
    }
    return {key: value for key, value in body.items() if value is not None}


def _wake(services: Services) -> None:
    services.feed.publish(TRIGGERS_TOPIC)


def _invalid(path: str, message: str) -> IllegalArgumentError:
    return IllegalArgumentError(f"Invalid entity: {path}: {message}", [ErrorDetail(path, message)])


def _field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(name, "must not be null")
    rule, most = _ID_RULES[name]
    if len(value) > most or rule.fullmatch(value) is None:
        raise _invalid(name, f'must match "^{rule.pattern}$" (at most {most} characters)')
    return value


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise IllegalArgumentError(
            "Invalid json: the body is not JSON", [ErrorDetail("body", "not JSON")]
        ) from None


def _trigger_key(body: Any, *, whole: bool = False) -> tuple[str, str, str]:
    """The trigger a body names; ``whole``: its ``disabled`` and ``backfill`` checked too."""
    if not isinstance(body, Mapping):
        raise IllegalArgumentError(
            "Invalid entity: body: must be a trigger", [ErrorDetail("body", "a trigger object")]
        )
    if not whole:
        return _field(body, "namespace"), _field(body, "flowId"), _field(body, "triggerId")
    if "disabled" in body and not isinstance(body["disabled"], bool):
        raise _invalid("disabled", "must be a boolean")
    if "backfill" in body and body["backfill"] is not None:
        _check_backfill(body["backfill"])
    return _field(body, "namespace"), _field(body, "flowId"), _field(body, "triggerId")


def _check_backfill(raw: Any) -> None:
    if not isinstance(raw, Mapping):
        raise _invalid("backfill", "must be an object {start, end, inputs, labels}")
    if not isinstance(raw.get("start"), str):
        raise _invalid("backfill.start", "must not be null")
    if raw.get("end") is not None and not isinstance(raw.get("end"), str):
        raise _invalid("backfill.end", "must be a date")
    if raw.get("inputs") is not None and not isinstance(raw.get("inputs"), Mapping):
        raise _invalid("backfill.inputs", "must be an object")
    if raw.get("labels") is not None and not isinstance(raw.get("labels"), list | Mapping):
        raise _invalid("backfill.labels", "must be a list or a map of labels")


async def _change(
    store: Store,
    tenant: str,
    key: tuple[str, str, str],
    change: Callable[[TriggerState], TriggerState],
) -> TriggerState:
    """Apply ``change`` to the stored state (404 when none), compare-and-set, retried."""
    for _ in range(MAX_CAS_ATTEMPTS):
        current = await store.get_trigger(tenant, *key)
        if current is None:
            raise NotFoundError(f"Trigger {'.'.join(key)} not found")
        changed = change(current)
        if changed == current:
            return current
        try:
            return await store.save_trigger(changed, expected_revision=current.revision)
        except ConcurrentUpdateError:
            continue
    raise ConflictError(f"Trigger {'.'.join(key)} is being updated concurrently")


async def _matching(
    store: Store, tenant: str, q: str | None, namespace: str | None
) -> list[TriggerState]:
    query = TriggerQuery(tenant_id=tenant, q=q, namespace=namespace, size=BULK_PAGE_SIZE)
    return (await store.search_triggers(query)).results


def _flow_trigger(stored_document: Mapping[str, Any], trigger_id: str) -> Mapping[str, Any] | None:
    for trigger in stored_document.get("triggers") or ():
        if isinstance(trigger, Mapping) and trigger.get("id") == trigger_id:
            return trigger
    return None


# --- search and list ---------------------------------------------------------------------------


@router.get(
    PREFIX + "/search", summary="Search triggers", responses=ok(models.PagedResults[dict[str, Any]])
)
async def search(
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    page: PageParam = 1,
    size: SizeParam = 10,
    q: str | None = None,
    namespace: str | None = None,
    flowId: str | None = None,
    workerId: str | None = None,
) -> Any:
    check_paging(page, size)
    query = TriggerQuery(
        tenant_id=tenant,
        q=q or None,
        namespace=namespace or None,
        flow_id=flowId or None,
        worker_id=workerId or None,
        page=page,
        size=size,
        sort=parse_sort(request.query_params.getlist("sort"), SORTABLE),
    )
    found = await services.store.search_triggers(query)
    results = []
    for state in found.results:
        stored = await services.store.get_flow(tenant, state.namespace, state.flow_id)
        definition = None if stored is None else _flow_trigger(stored.document, state.trigger_id)
        if stored is not None and not stored.document.get("triggers"):
            continue  # a trigger removed from its flow, still in the table
        results.append({"abstractTrigger": definition, "triggerContext": trigger_json(state)})
    return paged(found, results)


@router.get(
    PREFIX + "/{namespace}/{flowId}",
    summary="The triggers of a flow",
    responses=ok(models.PagedResults[dict[str, Any]]),
)
async def of_flow(
    namespace: NamespacePath,
    flowId: FlowIdPath,
    services: ServicesDep,
    tenant: TenantDep,
    request: Request,
    page: PageParam = 1,
    size: SizeParam = 10,
    q: str | None = None,
) -> Any:
    check_paging(page, size)
    query = TriggerQuery(
        tenant_id=tenant,
        q=q or None,
        namespace=namespace,
        flow_id=flowId,
        page=page,
        size=size,
        sort=parse_sort(request.query_params.getlist("sort"), SORTABLE),
    )
    found = await services.store.search_triggers(query)
    results = [trigger_json(s) for s in found.results if s.namespace == namespace]
    return paged(found, results)


# --- update: enable/disable, backfill ---------------------------------------------------------


def _backfill_of(
    raw: Any, zone_name: Any, now: datetime
) -> tuple[datetime, datetime, dict[str, Any], tuple[Any, ...]]:
    if not isinstance(raw, Mapping):
        raise BadRequestError("backfill must be an object {start, end, inputs, labels}")
    try:
        zone = zone_of(zone_name if isinstance(zone_name, str) else None)
    except CronError as error:
        raise BadRequestError(str(error)) from None
    try:
        if not isinstance(raw.get("start"), str):
            raise ValueError("backfill.start must not be null")
        start = parse_date(raw["start"], zone)
        end = parse_date(raw["end"], zone) if isinstance(raw.get("end"), str) else now
    except ValueError as error:
        raise IllegalArgumentError(
            f"Invalid entity: backfill: {error}", [ErrorDetail("backfill", str(error))]
        ) from None
    if end < start:
        raise IllegalArgumentError(
            "Invalid entity: backfill.end: must be after backfill.start",
            [ErrorDetail("backfill.end", "must be after backfill.start")],
        )
    inputs = raw.get("inputs")
    return (
        start,
        end,
        dict(inputs) if isinstance(inputs, Mapping) else {},
        labels_of(raw.get("labels")),
    )


@router.put(
    PREFIX,
    summary="Update a trigger (enable/disable, backfill)",
    responses={**ok(dict[str, Any]), **error_responses(400, 404, 409)},
    openapi_extra=TRIGGER_BODY,
)
async def update(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    body = await _json_body(request)
    key = _trigger_key(body, whole=True)
    stored = await services.store.get_flow(tenant, key[0], key[1])
    if stored is None:
        raise NotFoundError(f"Flow of trigger {key[2]} not found")
    flow = parsed_flow(stored.source)
    trigger = next((t for t in flow.triggers if t.id == key[2]), None)
    if trigger is None:
        raise NotFoundError(f"Flow {key[1]} has no trigger {key[2]}")
    disabled = body.get("disabled")
    backfill = body.get("backfill")
    now = datetime.now(UTC)
    spec = None
    if trigger.type == SCHEDULE_TYPE or backfill is not None:
        if trigger.type != SCHEDULE_TYPE:
            raise BadRequestError(f"Trigger {key[2]} is not a Schedule trigger: it cannot backfill")
        try:
            spec = schedule_spec(trigger)
        except ScheduleSpecError as error:
            raise BadRequestError(str(error)) from None
    parsed_backfill = None
    if backfill is not None:
        parsed_backfill = _backfill_of(backfill, trigger.properties.get("timezone"), now)

    def change(current: TriggerState) -> TriggerState:
        new = current
        if isinstance(disabled, bool) and disabled != current.disabled:
            new = replace(new, disabled=disabled)
            if not disabled and spec is not None:
                new = recover_missed(spec, new, now)
        if parsed_backfill is not None and spec is not None:
            start, end, inputs, labels = parsed_backfill
            new = start_backfill(spec, new, start, end, now, inputs=inputs, labels=labels)
        return new

    state = await _change(services.store, tenant, key, change)
    _wake(services)
    return trigger_json(state)


async def _set_disabled(
    services: Services, tenant: str, key: tuple[str, str, str], disabled: bool
) -> bool:
    """False when the trigger has no state (nothing to change)."""
    try:
        await _change(services.store, tenant, key, lambda s: replace(s, disabled=disabled))
    except NotFoundError:
        return False
    return True


@router.post(
    PREFIX + "/set-disabled/by-triggers",
    summary="Enable or disable triggers",
    responses=ok(models.BulkResponse),
    openapi_extra=SET_DISABLED_BODY,
)
async def set_disabled_by_triggers(
    request: Request, services: ServicesDep, tenant: TenantDep
) -> Any:
    body = await _json_body(request)
    triggers = body.get("triggers") if isinstance(body, Mapping) else None
    disabled = body.get("disabled") if isinstance(body, Mapping) else None
    if not isinstance(triggers, list) or not isinstance(disabled, bool):
        raise IllegalArgumentError(
            'Invalid entity: expected {"triggers": [...], "disabled": true|false}',
            [ErrorDetail("triggers", "a list of triggers"), ErrorDetail("disabled", "a boolean")],
        )
    keys = [_trigger_key(item) for item in triggers]
    count = 0
    for key in keys:
        count += await _set_disabled(services, tenant, key, disabled)
    _wake(services)
    return {"count": count}


@router.post(
    PREFIX + "/set-disabled/by-query",
    summary="Enable or disable the triggers of a query",
    responses=ok(models.BulkResponse),
)
async def set_disabled_by_query(
    services: ServicesDep,
    tenant: TenantDep,
    q: str | None = None,
    namespace: str | None = None,
    disabled: bool = Query(default=True),
) -> Any:
    found = await _matching(services.store, tenant, q, namespace)
    for state in found:
        await _set_disabled(
            services, tenant, (state.namespace, state.flow_id, state.trigger_id), disabled
        )
    _wake(services)
    return {"count": len(found)}


# --- unlock, restart, delete -------------------------------------------------------------------


def _unlocked(state: TriggerState) -> TriggerState:
    return replace(state, execution_id=None, evaluate_running_date=None, worker_id=None)


def _is_locked(state: TriggerState) -> bool:
    return state.execution_id is not None or state.evaluate_running_date is not None


@router.post(
    PREFIX + "/unlock/by-triggers",
    summary="Unlock triggers",
    responses=ok(models.BulkResponse),
    openapi_extra=TRIGGERS_BODY,
)
async def unlock_by_triggers(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    body = await _json_body(request)
    if not isinstance(body, list):
        raise IllegalArgumentError(
            "Invalid entity: body: a list of triggers", [ErrorDetail("body", "a list of triggers")]
        )
    count = 0
    for item in body:
        key = _trigger_key(item)
        state = await services.store.get_trigger(tenant, *key)
        if state is not None and _is_locked(state):
            await _change(services.store, tenant, key, _unlocked)
            count += 1
    _wake(services)
    return {"count": count}


@router.post(
    PREFIX + "/unlock/by-query",
    summary="Unlock the triggers of a query",
    responses=ok(models.BulkResponse),
)
async def unlock_by_query(
    services: ServicesDep, tenant: TenantDep, q: str | None = None, namespace: str | None = None
) -> Any:
    count = 0
    for state in await _matching(services.store, tenant, q, namespace):
        if _is_locked(state):
            await _change(
                services.store,
                tenant,
                (state.namespace, state.flow_id, state.trigger_id),
                _unlocked,
            )
            count += 1
    _wake(services)
    return {"count": count}


@router.post(
    PREFIX + "/{namespace}/{flowId}/{triggerId}/unlock",
    summary="Unlock a trigger",
    responses={**ok(dict[str, Any]), **error_responses(400, 404, 409)},
)
async def unlock(
    namespace: NamespacePath,
    flowId: FlowIdPath,
    triggerId: TaskIdPath,
    services: ServicesDep,
    tenant: TenantDep,
) -> Any:
    key = (namespace, flowId, triggerId)

    def change(state: TriggerState) -> TriggerState:
        if not _is_locked(state):
            raise ConflictError("Illegal state: Trigger is not locked")
        return _unlocked(state)

    state = await _change(services.store, tenant, key, change)
    _wake(services)
    return trigger_json(state)


@router.post(
    PREFIX + "/{namespace}/{flowId}/{triggerId}/restart",
    summary="Restart a trigger",
    responses={**ok(dict[str, Any]), **error_responses(400, 404, 409)},
)
async def restart(
    namespace: NamespacePath,
    flowId: FlowIdPath,
    triggerId: TaskIdPath,
    services: ServicesDep,
    tenant: TenantDep,
) -> Any:
    key = (namespace, flowId, triggerId)
    state = await _change(
        services.store,
        tenant,
        key,
        lambda s: replace(s, date=None, evaluate_running_date=None, worker_id=None),
    )
    _wake(services)
    return trigger_json(state)


@router.delete(
    PREFIX + "/{namespace}/{flowId}/{triggerId}",
    summary="Delete a trigger's state",
    status_code=204,
    response_class=Response,
    responses=error_responses(404),
)
async def delete(
    namespace: NamespacePath,
    flowId: FlowIdPath,
    triggerId: TaskIdPath,
    services: ServicesDep,
    tenant: TenantDep,
) -> Response:
    if not await services.store.delete_trigger(tenant, namespace, flowId, triggerId):
        raise NotFoundError(f"Trigger {namespace}.{flowId}.{triggerId} not found")
    _wake(services)
    return Response(status_code=204)


# --- backfills ---------------------------------------------------------------------------------


def _paused(paused: bool) -> Callable[[TriggerState], TriggerState]:
    def change(state: TriggerState) -> TriggerState:
        if state.backfill is None:
            raise BadRequestError("No backfill found")
        return replace(state, backfill=replace(state.backfill, paused=paused))

    return change


def _without_backfill(state: TriggerState) -> TriggerState:
    if state.backfill is None:
        raise BadRequestError("No backfill found")
    backfill: Backfill = state.backfill
    upcoming = backfill.previous_next_execution_date or state.next_execution_date
    return replace(state, backfill=None, next_execution_date=upcoming)


async def _one(
    request: Request,
    services: Services,
    tenant: str,
    change: Callable[[TriggerState], TriggerState],
) -> Any:
    key = _trigger_key(await _json_body(request))
    state = await _change(services.store, tenant, key, change)
    _wake(services)
    return trigger_json(state)


async def _by_triggers(
    request: Request,
    services: Services,
    tenant: str,
    change: Callable[[TriggerState], TriggerState],
) -> Any:
    body = await _json_body(request)
    if not isinstance(body, list):
        raise IllegalArgumentError(
            "Invalid entity: body: a list of triggers", [ErrorDetail("body", "a list of triggers")]
        )
    count = 0
    for item in body:
        key = _trigger_key(item)
        state = await services.store.get_trigger(tenant, *key)
        if state is not None and state.backfill is not None:
            await _change(services.store, tenant, key, change)
            count += 1
    _wake(services)
    return {"count": count}


async def _by_query(
    services: Services,
    tenant: str,
    q: str | None,
    namespace: str | None,
    change: Callable[[TriggerState], TriggerState],
) -> Any:
    count = 0
    for state in await _matching(services.store, tenant, q, namespace):
        if state.backfill is not None:
            await _change(
                services.store, tenant, (state.namespace, state.flow_id, state.trigger_id), change
            )
            count += 1
    _wake(services)
    return {"count": count}


@router.put(
    PREFIX + "/backfill/pause",
    summary="Pause a backfill",
    responses={**ok(dict[str, Any]), **error_responses(400, 404, 409)},
    openapi_extra=KEY_BODY,
)
async def pause_backfill(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    return await _one(request, services, tenant, _paused(True))


@router.put(
    PREFIX + "/backfill/unpause",
    summary="Resume a backfill",
    responses={**ok(dict[str, Any]), **error_responses(400, 404, 409)},
    openapi_extra=KEY_BODY,
)
async def unpause_backfill(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    return await _one(request, services, tenant, _paused(False))


@router.post(
    PREFIX + "/backfill/delete",
    summary="Delete a backfill",
    responses={**ok(dict[str, Any]), **error_responses(400, 404, 409)},
    openapi_extra=KEY_BODY,
)
async def delete_backfill(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    return await _one(request, services, tenant, _without_backfill)


@router.post(
    PREFIX + "/backfill/pause/by-triggers",
    summary="Pause backfills",
    responses=ok(models.BulkResponse),
    openapi_extra=TRIGGERS_BODY,
)
async def pause_backfills(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    return await _by_triggers(request, services, tenant, _paused(True))


@router.post(
    PREFIX + "/backfill/unpause/by-triggers",
    summary="Resume backfills",
    responses=ok(models.BulkResponse),
    openapi_extra=TRIGGERS_BODY,
)
async def unpause_backfills(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    return await _by_triggers(request, services, tenant, _paused(False))


@router.post(
    PREFIX + "/backfill/delete/by-triggers",
    summary="Delete backfills",
    responses=ok(models.BulkResponse),
    openapi_extra=TRIGGERS_BODY,
)
async def delete_backfills(request: Request, services: ServicesDep, tenant: TenantDep) -> Any:
    return await _by_triggers(request, services, tenant, _without_backfill)


@router.post(
    PREFIX + "/backfill/pause/by-query",
    summary="Pause the backfills of a query",
    responses=ok(models.BulkResponse),
)
async def pause_backfills_by_query(
    services: ServicesDep, tenant: TenantDep, q: str | None = None, namespace: str | None = None
) -> Any:
    return await _by_query(services, tenant, q, namespace, _paused(True))


@router.post(
    PREFIX + "/backfill/unpause/by-query",
    summary="Resume the backfills of a query",
    responses=ok(models.BulkResponse),
)
async def unpause_backfills_by_query(
    services: ServicesDep, tenant: TenantDep, q: str | None = None, namespace: str | None = None
) -> Any:
    return await _by_query(services, tenant, q, namespace, _paused(False))


@router.post(
    PREFIX + "/backfill/delete/by-query",
    summary="Delete the backfills of a query",
    responses=ok(models.BulkResponse),
)
async def delete_backfills_by_query(
    services: ServicesDep, tenant: TenantDep, q: str | None = None, namespace: str | None = None
) -> Any:
    return await _by_query(services, tenant, q, namespace, _without_backfill)
