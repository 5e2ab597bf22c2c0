"""Webhooks: ``GET|POST|PUT /executions/webhook/{namespace}/{flowId}/{key}`` start an execution.

The flow's enabled ``io.kestra.plugin.core.trigger.Webhook`` triggers are matched on ``key``
(rendered when it is a template, trimmed) in constant time; an unknown flow, a wrong key and a
disabled trigger all get the same 404, so keys cannot be probed. The key is checked before the
flow's ``disabled`` flag (409, Kestra's "Cannot execute a disabled flow"), so that answer, too,
needs the key. The execution carries ``trigger.body`` (the body parsed as a JSON object or
array, else its text; base64 when it is not UTF-8; absent when empty), ``trigger.headers`` and
``trigger.parameters`` (multi-value maps, as Kestra), the trigger's ``inputs`` (rendered with
``flow`` and ``trigger``) and the flow's labels; it is made by the engine's one door,
:class:`~lanner.engine.submit.Submitter`. The answer is Kestra's execution JSON with ``url``;
with ``wait: true`` it is the final execution (``responseCode``, else 500 when it FAILED, else
200), and with ``returnOutputs: true`` the flow's outputs (``responseContentType``
``text/plain`` sends them as text).

The trigger's conditions are evaluated by ``lanner.engine.conditions`` with ``flow`` and
``trigger`` (an ``Expression`` blank, ``false`` or failing to render, a ``DayWeek`` not today...):
one that does not hold answers 204 and starts nothing, as Kestra. Not yet: multipart bodies are
kept as their raw text. The paths are open without auth
(``lanner.api.auth``); the body is bounded by ``max-json-body-bytes`` (``lanner.api.limits``).

Imports the API's context, wire and access helpers, the domain and the engine's submitter.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from lanner.api import models
from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.deadlines import stored_flow
from lanner.api.execution_access import wait_for_end
from lanner.api.execution_wire import execution_json, execution_url
from lanner.api.ids import FlowIdPath, NamespacePath
from lanner.api.models import ok
from lanner.api.problems import error_responses
from lanner.api.wire import JsonResponse
from lanner.domain.executions import Execution, ExecutionTrigger, new_id
from lanner.domain.flows import Flow, TriggerSpec
from lanner.domain.times import utc_now
from lanner.engine.conditions import ConditionContext
from lanner.engine.conditions import conditions_hold as engine_conditions_hold
from lanner.engine.feeds import execution_topic
from lanner.engine.submit import FLOW_DISABLED, InputRenderer
from lanner.errors import ConflictError, ErrorDetail, NotFoundError, ValidationError
from lanner.store import StoredFlow

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)

WEBHOOK_TYPE = "io.kestra.plugin.core.trigger.Webhook"
WEBHOOK_NOT_FOUND = "Webhook not found"
"""One message for an unknown flow and a wrong key alike: a key cannot be probed."""


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def request_body(raw: bytes) -> Any:
    """Kestra's ``trigger.body``: a JSON object or array, else the text (base64 when not
    UTF-8); ``None`` for an empty body."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return parsed if isinstance(parsed, dict | list) else text


def multi_map(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Every name with all its values, in order (Kestra's ``Map<String, List<String>>``)."""
    mapped: dict[str, list[str]] = {}
    for name, value in items:
        mapped.setdefault(name, []).append(value)
    return mapped


def flow_vars(stored: StoredFlow) -> dict[str, Any]:
    return {
        "id": stored.id,
        "namespace": stored.namespace,
        "revision": stored.revision,
        "tenantId": stored.tenant_id,
    }


async def _render(renderer: InputRenderer, template: str, context: Mapping[str, Any]) -> Any:
    """A template, typed, in a thread (``secret()`` and the like block on the store)."""
    if not _is_template(template):
        return template
    return await asyncio.to_thread(renderer.render, template, context)


async def _rendered_tree(renderer: InputRenderer, value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return await _render(renderer, value, context)
    if isinstance(value, Mapping):
        return {key: await _rendered_tree(renderer, item, context) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [await _rendered_tree(renderer, item, context) for item in value]
    return value


async def matching_webhook(
    renderer: InputRenderer, flow: Flow, stored: StoredFlow, key: str
) -> TriggerSpec | None:
    """The first enabled Webhook trigger whose rendered key is ``key``; every candidate is
    compared (in constant time), and a key that fails to render matches nothing."""
    found: TriggerSpec | None = None
    presented = key.encode("utf-8")
    for trigger in flow.triggers:
        if trigger.type != WEBHOOK_TYPE or trigger.is_disabled:
            continue
        raw = trigger.properties.get("key")
        if not isinstance(raw, str):
            continue
        context = {"flow": flow_vars(stored), "trigger": {"id": trigger.id, "type": trigger.type}}
        try:
            rendered = str(await _render(renderer, raw, context)).strip()
        except ValueError:
            continue
        if hmac.compare_digest(rendered.encode("utf-8"), presented) and found is None:
            found = trigger
    return found


async def trigger_inputs(
    renderer: InputRenderer, trigger: TriggerSpec, context: Mapping[str, Any]
) -> dict[str, Any]:
    """The trigger's ``inputs``, rendered; a failure is a 422 naming the input."""
    inputs = trigger.properties.get("inputs")
    if not isinstance(inputs, Mapping):
        return {}
    rendered: dict[str, Any] = {}
    for name, value in inputs.items():
        try:
            rendered[str(name)] = await _rendered_tree(renderer, value, context)
        except ValueError as error:
            path = f"triggers.{trigger.id}.inputs.{name}"
            raise ValidationError(
                f"Invalid entity: {path}: {error}", [ErrorDetail(path, str(error))]
            ) from None
    return rendered


async def conditions_hold(
    renderer: InputRenderer, flow: Flow, trigger: TriggerSpec, context: Mapping[str, Any]
) -> bool:
    """Whether every condition of the trigger holds (``lanner.engine.conditions``; rendered
    in a thread: ``secret()`` and the like block on the store). One that cannot be evaluated
    (a template error, an execution condition: a webhook has no ending execution) does not."""
    if not trigger.conditions:
        return True
    ctx = ConditionContext(flow=flow, now=utc_now(), render=renderer.render, variables=context)
    return await asyncio.to_thread(engine_conditions_hold, trigger.conditions, ctx)


async def response_code(
    renderer: InputRenderer, trigger: TriggerSpec, final: Execution, context: Mapping[str, Any]
) -> int:
    """``responseCode`` (rendered), else 500 for a FAILED execution, else 200."""
    raw = trigger.properties.get("responseCode")
    if raw is not None:
        value = await _render(renderer, raw, context) if isinstance(raw, str) else raw
        try:
            code = int(value)
        except (TypeError, ValueError):
            code = 0
        if 100 <= code <= 599:
            return code
    return 500 if final.state.current.is_failed else 200


def outputs_response(trigger: TriggerSpec, outputs: Mapping[str, Any], status: int) -> Response:
    if trigger.properties.get("responseContentType") == "text/plain":
        return PlainTextResponse(json.dumps(dict(outputs)), status_code=status)
    return JsonResponse(dict(outputs), status_code=status)


async def _webhook(
    request: Request, namespace: str, flow_id: str, key: str, services: Services, tenant: str
) -> Any:
    submitter = services.submitter
    renderer = submitter.inputs
    stored = await services.store.get_flow(tenant, namespace, flow_id)
    if stored is None:
        raise NotFoundError(WEBHOOK_NOT_FOUND)
    flow = await stored_flow(services.settings, stored.source)
    trigger = await matching_webhook(renderer, flow, stored, key)
    if trigger is None:
        raise NotFoundError(WEBHOOK_NOT_FOUND)
    if stored.disabled:
        raise ConflictError(FLOW_DISABLED)
    variables: dict[str, Any] = {
        "body": request_body(await request.body()),
        "headers": multi_map(request.headers.items()),
        "parameters": multi_map(request.query_params.multi_items()),
    }
    context = {"flow": flow_vars(stored), "trigger": variables}
    if not await conditions_hold(renderer, flow, trigger, context):
        return Response(status_code=204)
    inputs = await trigger_inputs(renderer, trigger, context)
    started_by = ExecutionTrigger(id=trigger.id, type=WEBHOOK_TYPE, variables=variables)
    if not _is_true(trigger.properties.get("wait")):
        execution = await submitter.submit(stored, inputs, trigger=started_by)
        return {**execution_json(execution), "url": execution_url(services.settings, execution)}
    execution_id = new_id()
    # Subscribe before submitting so the end cannot slip between commit and wait.
    feed = services.feed
    with (
        feed.subscribe(execution_topic(execution_id)) as subscription,
        feed.ends.awaiting(execution_id),
    ):
        execution = await submitter.submit(
            stored, inputs, trigger=started_by, execution_id=execution_id, is_new_id=True
        )
        final, runs = await wait_for_end(
            services, tenant, execution_id, subscription=subscription, known=execution
        )
    status = await response_code(renderer, trigger, final, context)
    if _is_true(trigger.properties.get("returnOutputs")):
        return outputs_response(trigger, final.outputs, status)
    body = {**execution_json(final, runs), "url": execution_url(services.settings, final)}
    return JsonResponse(body, status_code=status)


WEBHOOK_PATH = "/executions/webhook/{namespace}/{id}/{key}"
RESPONSES = {**ok(models.ExecutionResponse), **error_responses(404, 409, 413)}


@router.get(
    WEBHOOK_PATH, summary="Trigger a new execution by GET webhook trigger", responses=RESPONSES
)
async def webhook_get(
    namespace: NamespacePath, id: FlowIdPath, key: str, request: Request,
    services: ServicesDep, tenant: TenantDep,
) -> Any:  # fmt: skip
    return await _webhook(request, namespace, id, key, services, tenant)


@router.post(
    WEBHOOK_PATH, summary="Trigger a new execution by POST webhook trigger", responses=RESPONSES
)
async def webhook_post(
    namespace: NamespacePath, id: FlowIdPath, key: str, request: Request,
    services: ServicesDep, tenant: TenantDep,
) -> Any:  # fmt: skip
    return await _webhook(request, namespace, id, key, services, tenant)


@router.put(
    WEBHOOK_PATH, summary="Trigger a new execution by PUT webhook trigger", responses=RESPONSES
)
async def webhook_put(
    namespace: NamespacePath, id: FlowIdPath, key: str, request: Request,
    services: ServicesDep, tenant: TenantDep,
) -> Any:  # fmt: skip
    return await _webhook(request, namespace, id, key, services, tenant)
