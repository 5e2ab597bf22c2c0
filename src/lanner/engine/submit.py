"""The one door into the engine: every new execution is made and queued by :class:`Submitter`.

``Submitter.submit`` takes a flow (a reference, or a stored revision already read), raw inputs
and uploaded files, labels, what started it (``ExecutionTrigger``), a scheduled date, a kind
and, for a subflow's child, its parent and deterministic id. It reads the flow (404, disabled:
409), coerces the inputs (FILE inputs become ``kestra:///`` URIs of the uploads, SECRET inputs
are encrypted with the server key, ``dependsOn`` and templated defaults are rendered; every
problem is one 422), merges the labels (the flow's, the requested ones, ``system.correlationId``),
builds the :class:`Execution`, stores the uploads, commits the execution (with its ``created``
event) and wakes the engine (``WORK_TOPIC``). In one process with the executor loop
(:meth:`Submitter.admit_through`), a new execution due now is handed to the loop instead, which
inserts it with its first step in one transaction (``LocalResults.admit``); the submit returns
once that is committed. Nothing is ever half-created: if the commit fails, the stored files go
again. A submit with a given ``execution_id`` is idempotent: when
that execution exists already (a redelivered job), it is returned as stored.

The API (``POST /executions/...``), the Subflow task and every trigger call it; callers keep only
their own parsing and answers. This module is the only place an ``Execution`` is constructed
(``tests/unit/test_execution_construction.py`` checks it; the store rebuilding stored rows
aside). A new execution copied from an existing one (replay, a ``CREATE_NEW_EXECUTION`` retry)
is :func:`rerun_of` it, then :meth:`Submitter.resubmit` (or the executor's own write).

Imports the domain, templating, flow parsing, storage, the store protocols and this package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from threading import Lock
from typing import Any, BinaryIO

from lanner.domain.executions import Execution, ExecutionTrigger, State, new_id
from lanner.domain.flows import Flow
from lanner.domain.input_values import Encrypt, InputValuesError, coerce_inputs
from lanner.domain.inputs import InputSpec
from lanner.domain.labels import Label
from lanner.domain.states import StateType
from lanner.domain.times import format_instant
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed
from lanner.errors import ConfigError, ConflictError, ErrorDetail, NotFoundError, ValidationError
from lanner.flows.loader import safe_load
from lanner.flows.parser import parse_flow
from lanner.regexes import full_match
from lanner.storage import LocalStorage, execution_prefix, input_file_path, uri_of
from lanner.store import Store, StoredFlow
from lanner.templating import TemplateEngine, TemplateError

CORRELATION_LABEL = "system.correlationId"
FLOW_NOT_FOUND = "Requested Flow is not found."
FLOW_DISABLED = "Illegal state: Cannot execute a disabled flow"


@dataclass(frozen=True, slots=True)
class FlowRef:
    """A flow to execute: its latest revision, or ``revision``."""

    tenant_id: str
    namespace: str
    flow_id: str
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class FileUpload:
    """An uploaded file for a FILE input: stored at the execution's ``input_file_path``."""

    input_id: str
    filename: str
    content: BinaryIO | bytes


PARSED_FLOWS_MAX = 256
_parsed: dict[str, Flow] = {}  # insertion order: the oldest goes first when full
_parsed_lock = Lock()


def cached_flow(source: str) -> Flow | None:
    """A stored revision's parsed flow when it was parsed before (no parse: safe on the loop)."""
    return _parsed.get(source)


def parsed_flow(source: str) -> Flow:
    """A stored revision's source, parsed once (revisions never change); thread-safe."""
    flow = _parsed.get(source)
    if flow is None:
        flow = parse_flow(source)
        with _parsed_lock:
            if len(_parsed) >= PARSED_FLOWS_MAX:
                del _parsed[next(iter(_parsed))]
            _parsed[source] = flow
    return flow


def input_error(error: InputValuesError) -> ValidationError:
    """Kestra's 422: ``Invalid entity: inputs.<id>: <message>``, one detail per input."""
    details = [ErrorDetail(f"inputs.{p.input_id}", p.message) for p in error.problems]
    text = ", ".join(f"{d.path}: {d.message}" for d in details)
    return ValidationError(f"Invalid entity: {text}", details)


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


def execution_labels(
    flow: Flow, requested: Sequence[Label], execution_id: str
) -> tuple[Label, ...]:
    """Flow labels (non-system) + requested labels (the last of a key wins) +
    ``system.correlationId`` (the execution's id) when absent."""
    merged = {label.key: label.value for label in flow.labels if not label.is_system}
    merged.update((label.key, label.value) for label in requested)
    merged.setdefault(CORRELATION_LABEL, execution_id)
    return tuple(Label(key, value) for key, value in merged.items())


def rerun_of(
    original: Execution, execution_id: str, now: datetime, *, flow_revision: int | None = None
) -> Execution:
    """A new execution re-running ``original`` (replay, ``CREATE_NEW_EXECUTION`` retry): same
    inputs, labels and variables, CREATED at ``now``, ``attemptNumber`` + 1, linked to it
    (``parentId``, ``originalId``); of ``flow_revision`` when given."""
    return replace(
        original,
        id=execution_id,
        flow_revision=original.flow_revision if flow_revision is None else flow_revision,
        state=State.of(StateType.CREATED, now),
        outputs={},
        parent_id=original.id,
        original_id=original.original_id or original.id,
        attempt_number=original.attempt_number + 1,
        original_created_date=original.original_created_date or original.state.start_date,
        deleted=False,
    )


class InputRenderer:
    """Renders inputs' ``dependsOn`` conditions and templated defaults, typed.

    With a template engine backed by the server's functions (``secret()``, ``kv()``...), a
    flow whose inputs call them is coerced in a thread: those functions block on the store,
    whose futures settle on the event loop.
    """

    def __init__(self, templates: TemplateEngine) -> None:
        self._templates = templates

    def render(self, template: str, context: Mapping[str, Any]) -> Any:
        """A failure is the input's problem (``ValueError``)."""
        try:
            return self._templates.render_typed(template, context)
        except TemplateError as error:
            raise ValueError(str(error)) from None

    def uses_runtime(self, specs: Sequence[InputSpec]) -> bool:
        templates = [spec.defaults for spec in specs if isinstance(spec.defaults, str)]
        templates += [
            s.depends_on.condition for s in specs if s.depends_on and s.depends_on.condition
        ]
        try:
            return any(self._templates.uses_runtime(template) for template in templates)
        except TemplateError:
            return False  # reported by the rendering itself

    async def coerce(
        self,
        specs: Sequence[InputSpec],
        submitted: Mapping[str, Any],
        *,
        encrypt: Encrypt | None,
        context: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """Typed inputs (``coerce_inputs`` with YAML parsing and this rendering); a problem is
        the 422 of :func:`input_error`."""

        def work() -> dict[str, Any]:
            return coerce_inputs(
                specs,
                submitted,
                parse_yaml=safe_load,
                encrypt=encrypt,
                render=self.render,
                context=context,
                match_pattern=full_match,
            )

        try:
            if self.uses_runtime(specs):
                return await asyncio.to_thread(work)
            return work()
        except InputValuesError as error:
            raise input_error(error) from None


class Submitter:
    """Makes, stores and queues new executions; built once (``lanner.bootstrap``).

    ``storage`` holds uploaded files (a submit with files fails without it); ``feed`` wakes the
    engine (none: the caller's loop picks the execution up); ``encrypt`` turns SECRET inputs
    into their stored form (the server key's cipher, or a refusal naming the missing key;
    none: they stay clear); ``templates`` renders ``dependsOn`` and templated defaults.
    """

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed | None = None,
        *,
        storage: LocalStorage | None = None,
        encrypt: Encrypt | None = None,
        templates: TemplateEngine | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._feed = feed
        self.storage = storage
        self._encrypt = encrypt
        self.inputs = InputRenderer(templates or TemplateEngine())
        self._clock = clock or (lambda: datetime.now(UTC))
        self._admit: Callable[[Execution], Awaitable[bool]] | None = None

    def admit_through(self, admit: Callable[[Execution], Awaitable[bool]] | None) -> None:
        """Hand new executions due now to ``admit`` (the executor loop of this process: True
        once it committed one with its first step, False to store it here); None: stop."""
        self._admit = admit

    async def flow_of(self, flow: FlowRef | StoredFlow) -> StoredFlow:
        """The stored revision to execute: 404 when absent, 409 when the flow is disabled."""
        stored: StoredFlow | None
        if isinstance(flow, FlowRef):
            stored = await self._store.get_flow(
                flow.tenant_id, flow.namespace, flow.flow_id, revision=flow.revision
            )
        else:
            stored = flow
        if stored is None:
            raise NotFoundError(FLOW_NOT_FOUND)
        if stored.disabled:
            raise ConflictError(FLOW_DISABLED)
        return stored

    async def submit(
        self,
        flow: FlowRef | StoredFlow,
        inputs: Mapping[str, Any] | None = None,
        *,
        files: Sequence[FileUpload] = (),
        labels: Sequence[Label] = (),
        trigger: ExecutionTrigger | None = None,
        schedule_date: datetime | None = None,
        kind: str | None = None,
        parent_id: str | None = None,
        execution_id: str | None = None,
        is_new_id: bool = False,
        missing_required: bool = False,
    ) -> Execution:
        """Create ``flow``'s new execution, commit it and wake the engine; returns it.

        ``inputs`` are raw values (text from a form, or typed), by input id; ``files`` the
        uploads of FILE inputs (their URIs replace any raw value). ``kind`` is None (NORMAL),
        ``TEST`` or ``PLAYGROUND``. ``execution_id`` given (a subflow's child: derived from
        the task run and attempt) makes a second submit return the first one's execution.
        ``is_new_id``: ``execution_id`` was just made by the caller (to wait on it), so no
        execution can have it yet. ``missing_required`` lets required inputs without a value
        (nor default) stay absent: Kestra's Flow trigger starts its execution with the
        rendered ``inputs`` as they are.
        """
        stored = await self.flow_of(flow)
        parsed = parsed_flow(stored.source)
        tenant = stored.tenant_id
        own_id = execution_id or new_id()
        submitted = dict(inputs or {})
        for upload in files:
            path = input_file_path(
                stored.namespace, stored.id, own_id, upload.input_id, upload.filename
            )
            submitted[upload.input_id] = uri_of(path)
        now = self._clock()
        context = input_context(parsed, own_id, stored.revision, tenant, now)
        specs = parsed.inputs
        if missing_required:
            specs = tuple(
                replace(spec, required=False)
                if spec.required and not spec.has_defaults and spec.id not in submitted
                else spec
                for spec in specs
            )
        values = await self.inputs.coerce(specs, submitted, encrypt=self._encrypt, context=context)
        execution = Execution(
            id=own_id,
            tenant_id=tenant,
            namespace=stored.namespace,
            flow_id=stored.id,
            flow_revision=stored.revision,
            state=State.of(StateType.CREATED, now),
            inputs=values,
            labels=execution_labels(parsed, labels, own_id),
            variables=dict(parsed.variables or {}),
            parent_id=parent_id,
            original_id=own_id,
            trigger=trigger,
            original_created_date=now,
            schedule_date=schedule_date,
            kind=kind,
        )
        is_fresh = execution_id is None or is_new_id
        is_due = schedule_date is None or schedule_date <= now
        try:
            admitted = await self._write(
                execution, files, owns_files=is_fresh, may_admit=is_fresh and is_due
            )
        except ConflictError:
            existing = await self._store.get_execution(tenant, own_id) if execution_id else None
            if existing is None:
                raise
            return existing  # submitted before (a redelivered job): the first one stands
        if not admitted:
            self._wake()
        return execution

    async def resubmit(self, execution: Execution) -> Execution:
        """Queue a copy of an existing execution (:func:`rerun_of`): commit it and wake the
        engine."""
        await self._store.create_execution(execution)
        self._wake()
        return execution

    async def store_files(self, execution: Execution, files: Sequence[FileUpload]) -> None:
        """Write ``files`` at ``execution``'s input paths (also for a Pause's resume inputs)."""
        if not files:
            return
        if self.storage is None:
            raise ConfigError("no internal storage configured for uploaded files")
        for upload in files:
            path = input_file_path(
                execution.namespace, execution.flow_id, execution.id, upload.input_id,
                upload.filename,
            )  # fmt: skip
            await self.storage.put(execution.tenant_id, path, upload.content)

    async def _write(
        self,
        execution: Execution,
        files: Sequence[FileUpload],
        *,
        owns_files: bool,
        may_admit: bool = False,
    ) -> bool:
        """Store the files, then commit the execution (through the executor loop when
        ``may_admit``: True when it did); on failure the files go again (but not those of an
        execution that had this given id already)."""
        try:
            await self.store_files(execution, files)
            if may_admit and self._admit is not None and await self._admit(execution):
                return True
            await self._store.create_execution(execution)
            return False
        except BaseException as error:
            is_taken = isinstance(error, ConflictError) and not owns_files
            if files and self.storage is not None and not is_taken:
                prefix = execution_prefix(execution.namespace, execution.flow_id, execution.id)
                await self.storage.delete_tree(execution.tenant_id, prefix)
            raise

    def _wake(self) -> None:
        if self._feed is not None:
            self._feed.publish(WORK_TOPIC)
