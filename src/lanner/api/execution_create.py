"""Creating executions: ``POST /executions/{namespace}/{id}`` (and the deprecated ``/trigger/``).

HTTP only: the query parameters (labels, ``scheduleDate``, ``kind``, ``revision``), the form
(multipart inputs: text parts by name; FILE inputs are file parts whose *filename* is the input
id, as Kestra, or, leniently, whose part name is) and the answer (``wait=true`` waits for the
end). The execution itself is made, stored and queued by the engine's
:class:`~lanner.engine.submit.Submitter`, the one door every trigger goes through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from lanner.api import models
from lanner.api.context import Services, ServicesDep, TenantDep
from lanner.api.deadlines import stored_flow
from lanner.api.execution_access import wait_for_end
from lanner.api.execution_wire import execution_json, execution_url
from lanner.api.ids import FlowIdPath, NamespacePath
from lanner.api.limits import read_form as read_limited_form
from lanner.api.models import ok
from lanner.api.problems import error_responses
from lanner.api.queries import RevisionParam, parse_labels
from lanner.api.wire import JsonResponse
from lanner.domain.executions import new_id
from lanner.domain.inputs import InputSpec
from lanner.domain.labels import Label
from lanner.engine.feeds import execution_topic
from lanner.engine.submit import CORRELATION_LABEL, FileUpload, FlowRef
from lanner.errors import ErrorDetail, IllegalArgumentError
from lanner.store import StoredFlow

router = APIRouter(tags=["Executions"], default_response_class=JsonResponse)

MCP_LABEL = "system.from"
"""Kestra's label of the executions an MCP tool call started (``system.from: mcp``); a client
may send it so that ``lanner mcp``, which calls the REST API, labels its runs like the built-in
server does."""
ALLOWED_REQUEST_SYSTEM_LABELS = frozenset({CORRELATION_LABEL, MCP_LABEL})
EXECUTION_KINDS = frozenset({"NORMAL", "TEST", "PLAYGROUND"})
MAX_FORM_FIELDS = 1000


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
    settings = request.app.state.services.settings
    data = await read_limited_form(
        request, settings, max_files=MAX_FORM_FIELDS, max_fields=MAX_FORM_FIELDS
    )
    for name, value in data.multi_items():
        if isinstance(value, UploadFile):
            form.files.append((name, value))
        else:
            form.values[name] = value
    return form


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


def uploads_of(specs: tuple[InputSpec, ...], form: SubmittedForm) -> list[FileUpload]:
    """The form's files for FILE inputs, as the submitter takes them."""
    return [
        FileUpload(input_id, upload.filename or "", upload.file)
        for input_id, upload in file_uploads(specs, form).items()
    ]


async def _create(
    request: Request, namespace: str, flow_id: str, services: Services, tenant: str, *,
    wait: bool, revision: int | None, schedule_date: str | None, kind: str | None,
) -> Any:  # fmt: skip
    params = request.query_params
    requested = request_labels(params.getlist("labels"))
    stored = await services.submitter.flow_of(FlowRef(tenant, namespace, flow_id, revision))
    flow = await stored_flow(services.settings, stored.source)  # cached for submit
    form = await read_form(request)
    return await submit_and_answer(
        services, tenant, stored, form.values,
        files=uploads_of(flow.inputs, form),
        labels=[Label(key, value) for key, value in requested.items()],
        schedule_date=parse_instant(schedule_date, "scheduleDate") if schedule_date else None,
        kind=execution_kind(kind), wait=wait,
    )  # fmt: skip


async def submit_and_answer(
    services: Services,
    tenant: str,
    stored: StoredFlow,
    inputs: Mapping[str, Any],
    *,
    files: Sequence[FileUpload] = (),
    labels: Sequence[Label] = (),
    schedule_date: datetime | None = None,
    kind: str | None = None,
    wait: bool = False,
) -> dict[str, Any]:
    """Submit ``stored`` and answer the execution's JSON (its end and task runs when ``wait``);
    the REST route and the MCP server's run tools share it."""
    submission = partial(
        services.submitter.submit, stored, inputs, files=files, labels=labels,
        schedule_date=schedule_date, kind=kind,
    )  # fmt: skip
    if not wait:
        execution = await submission()
        return {**execution_json(execution), "url": execution_url(services.settings, execution)}
    # Subscribe before submitting so the end cannot slip between commit and wait.
    execution_id = new_id()
    feed = services.feed
    with (
        feed.subscribe(execution_topic(execution_id)) as subscription,
        feed.ends.awaiting(execution_id),
    ):
        execution = await submission(execution_id=execution_id, is_new_id=True)
        final, runs = await wait_for_end(
            services, tenant, execution_id, subscription=subscription, known=execution
        )
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
