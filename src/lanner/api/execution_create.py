"""Creating executions: ``POST /executions/{namespace}/{id}`` (and the deprecated ``/trigger/``).

Multipart inputs: text parts by name; FILE inputs are file parts whose *filename* is the input
id (Kestra), or, leniently, whose part name is. Inputs are coerced before anything is written;
uploaded files are stored, then the execution row (with its ``created`` event) is committed, and
if that fails the files go again: nothing is ever half-created.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import yaml
from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from lanner.api import models
from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.execution_access import executions_of, storage_of, visible_runs, wait_until
from lanner.api.execution_wire import execution_json, execution_url
from lanner.api.ids import FlowIdPath, NamespacePath
from lanner.api.models import ok
from lanner.api.problems import error_responses
from lanner.api.queries import RevisionParam, parse_labels
from lanner.api.wire import JsonResponse
from lanner.config import Settings
from lanner.domain.executions import Execution, State, new_id
from lanner.domain.flows import Flow
from lanner.domain.input_values import InputValuesError, coerce_inputs
from lanner.domain.inputs import InputSpec
from lanner.domain.labels import Label
from lanner.domain.states import StateType
from lanner.domain.times import format_instant
from lanner.encryption import secret_encrypter
from lanner.engine.feeds import WORK_TOPIC, execution_topic
from lanner.errors import (
    ConflictError,
    ErrorDetail,
    IllegalArgumentError,
    NotFoundError,
    ValidationError,
)
from lanner.flows.parser import parse_flow
from lanner.storage import execution_prefix, input_file_path, uri_of
from lanner.templating import TemplateEngine, TemplateError

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)

CORRELATION_LABEL = "system.correlationId"
ALLOWED_REQUEST_SYSTEM_LABELS = frozenset({CORRELATION_LABEL})
EXECUTION_KINDS = frozenset({"NORMAL", "TEST", "PLAYGROUND"})
MAX_FORM_FIELDS = 1000
MAX_FIELD_BYTES = 10 * 1024 * 1024

# Renders ``dependsOn`` conditions and templated defaults. It has no server-backed functions
# (``secret``, ``kv``...): those block and would need the engine's runtime and a thread.
INPUT_TEMPLATES = TemplateEngine()


@dataclass(slots=True)
class SubmittedForm:
    """A request's multipart/urlencoded body: text values and uploaded files by part name."""

    values: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, UploadFile]] = field(default_factory=list)


async def read_form(request: Request) -> SubmittedForm:
    """The form parts of ``request``; an empty form when it has no form body."""
    content_type = request.headers.get("content-type", "").lower()
    form = SubmittedForm()
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return form
    data = await request.form(
        max_files=MAX_FORM_FIELDS, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
    )
    for name, value in data.multi_items():
        if isinstance(value, UploadFile):
            form.files.append((name, value))
        else:
            form.values[name] = value
    return form


@lru_cache(maxsize=256)
def parsed_flow(source: str) -> Flow:
    """A stored revision's source, parsed once (revisions never change)."""
    return parse_flow(source)


def input_error(error: InputValuesError) -> ValidationError:
    """Kestra's 422: ``Invalid entity: inputs.<id>: <message>``."""
    details = [ErrorDetail(f"inputs.{p.input_id}", p.message) for p in error.problems]
    text = ", ".join(f"{d.path}: {d.message}" for d in details)
    return ValidationError(f"Invalid entity: {text}", details)


def render_input(template: str, context: Mapping[str, Any]) -> Any:
    """A ``dependsOn`` condition or a default, rendered typed; a failure is the input's 422."""
    try:
        return INPUT_TEMPLATES.render_typed(template, context)
    except TemplateError as error:
        raise ValueError(str(error)) from None


def input_context(
    flow: Flow, execution_id: str, revision: int, tenant: str, now: datetime
) -> dict[str, Any]:
    """The ``flow`` and ``execution`` variables inputs see while they are resolved."""
    flow_vars = {"id": flow.id, "namespace": flow.namespace, "revision": revision}
    execution_vars = {"id": execution_id, "startDate": format_instant(now)}
    return {
        "flow": {**flow_vars, "tenantId": tenant},
        "execution": {**execution_vars, "originalId": execution_id},
    }


def coerce(
    specs: tuple[InputSpec, ...],
    submitted: dict[str, Any],
    settings: Settings | None = None,
    *,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Typed inputs; with ``settings``, SECRET ones encrypted with the server's key (422
    without one). Without (resume inputs, which become task outputs) they stay clear.
    ``dependsOn`` conditions and templated defaults see ``context`` and the inputs so far."""
    try:
        return coerce_inputs(
            specs,
            submitted,
            parse_yaml=yaml.safe_load,
            encrypt=secret_encrypter(settings.encryption_key) if settings else None,
            render=render_input,
            context=context,
        )
    except InputValuesError as error:
        raise input_error(error) from None


def file_uploads(specs: tuple[InputSpec, ...], form: SubmittedForm) -> dict[str, UploadFile]:
    """FILE inputs by id: the part whose filename is the input id, else whose name is."""
    file_ids = {spec.id for spec in specs if spec.is_file}
    found: dict[str, UploadFile] = {}
    for name, upload in form.files:
        if upload.filename in file_ids:
            found[upload.filename] = upload
        elif name in file_ids and name not in found:
            found[name] = upload
    return found


def request_labels(raw: list[str]) -> dict[str, str]:
    labels = parse_labels(raw)
    for key in labels:
        if key.startswith("system.") and key not in ALLOWED_REQUEST_SYSTEM_LABELS:
            raise IllegalArgumentError(
                f"Illegal argument: System labels can only be set by Kestra itself, "
                f"offending label: {key}={labels[key]}",
                [ErrorDetail("labels", f"system label {key}")],
            )
    return labels


def execution_labels(flow: Flow, requested: dict[str, str], execution_id: str) -> tuple[Label, ...]:
    """Flow labels (non-system) + request labels + ``system.correlationId`` when absent."""
    merged = {label.key: label.value for label in flow.labels if not label.is_system}
    merged.update(requested)
    merged.setdefault(CORRELATION_LABEL, execution_id)
    return tuple(Label(key, value) for key, value in merged.items())


def execution_kind(raw: str | None) -> str | None:
    """1.x ``kind``: NORMAL (the default, not written), TEST or PLAYGROUND."""
    if raw is None or raw.upper() == "NORMAL":
        return None
    if raw.upper() not in EXECUTION_KINDS:
        raise IllegalArgumentError(
            f"Illegal argument: invalid kind '{raw}'",
            [ErrorDetail("kind", "one of NORMAL, TEST, PLAYGROUND")],
        )
    return raw.upper()


def parse_instant(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise IllegalArgumentError(
            f"Illegal argument: invalid {name} '{raw}', expected an ISO-8601 date-time",
            [ErrorDetail(name, "expected an ISO-8601 date-time")],
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def store_uploads(
    services: Services, execution: Execution, uploads: dict[str, UploadFile]
) -> None:
    storage = storage_of(services)
    for input_id, upload in uploads.items():
        path = input_file_path(
            execution.namespace, execution.flow_id, execution.id, input_id, upload.filename or ""
        )
        await storage.put(execution.tenant_id, path, upload.file)


async def submit(services: Services, execution: Execution, uploads: dict[str, UploadFile]) -> None:
    """Store the uploads, commit the execution and wake the engine; undo files on failure."""
    storage = storage_of(services)
    prefix = execution_prefix(execution.namespace, execution.flow_id, execution.id)
    try:
        await store_uploads(services, execution, uploads)
        await executions_of(services).create_execution(execution)
    except BaseException:
        if uploads:
            await storage.delete_tree(execution.tenant_id, prefix)
        raise
    services.feed.publish(WORK_TOPIC)


async def _create(
    request: Request, namespace: str, flow_id: str, services: Services, tenant: str, *,
    wait: bool, revision: int | None, schedule_date: str | None, kind: str | None,
) -> Any:  # fmt: skip
    params = request.query_params
    requested = request_labels(params.getlist("labels"))
    stored = await services.store.get_flow(tenant, namespace, flow_id, revision=revision)
    if stored is None:
        raise NotFoundError("Requested Flow is not found.")
    if stored.disabled:
        raise ConflictError("Illegal state: Cannot execute a disabled flow")
    flow = parsed_flow(stored.source)
    form = await read_form(request)
    execution_id = new_id()
    uploads = file_uploads(flow.inputs, form)
    submitted: dict[str, Any] = dict(form.values)
    for input_id, upload in uploads.items():
        path = input_file_path(namespace, flow_id, execution_id, input_id, upload.filename or "")
        submitted[input_id] = uri_of(path)
    now = datetime.now(UTC)
    context = input_context(flow, execution_id, stored.revision, tenant, now)
    inputs = coerce(flow.inputs, submitted, services.settings, context=context)
    execution = Execution(
        id=execution_id,
        tenant_id=tenant,
        namespace=namespace,
        flow_id=flow_id,
        flow_revision=stored.revision,
        state=State.of(StateType.CREATED, now),
        inputs=inputs,
        labels=execution_labels(flow, requested, execution_id),
        variables=dict(flow.variables or {}),
        original_id=execution_id,
        original_created_date=now,
        schedule_date=parse_instant(schedule_date, "scheduleDate") if schedule_date else None,
        kind=execution_kind(kind),
    )
    if not wait:
        await submit(services, execution, uploads)
        return {**execution_json(execution), "url": execution_url(services.settings, execution)}
    # Subscribe before submitting so the end cannot slip between commit and wait.
    with services.feed.subscribe(execution_topic(execution_id)) as subscription:
        await submit(services, execution, uploads)
        final = await wait_until(
            services, tenant, execution_id, subscription=subscription, known=execution
        )
    runs = visible_runs(await executions_of(services).list_task_runs(execution_id))
    return {**execution_json(final, runs), "url": execution_url(services.settings, final)}


@router.post(
    "/executions/trigger/{namespace}/{id}",
    summary="Create an execution (deprecated)",
    responses={**ok(models.ExecutionResponse), **error_responses(409)},
)
async def trigger_execution(
    namespace: NamespacePath,
    id: FlowIdPath,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    wait: bool = False,
    revision: RevisionParam = None,
) -> Any:
    return await _create(
        request, namespace, id, services, tenant,
        wait=wait, revision=revision, schedule_date=None, kind=None,
    )  # fmt: skip


@router.post(
    "/executions/{namespace}/{id}",
    summary="Create an execution",
    responses={**ok(models.ExecutionResponse), **error_responses(409)},
)
async def create_execution(
    namespace: NamespacePath,
    id: FlowIdPath,
    request: Request,
    services: ServicesDep,
    tenant: TenantDep,
    wait: bool = False,
    revision: RevisionParam = None,
    scheduleDate: str | None = None,
    kind: str | None = None,
) -> Any:
    return await _create(
        request, namespace, id, services, tenant,
        wait=wait, revision=revision, schedule_date=scheduleDate, kind=kind,
    )  # fmt: skip
