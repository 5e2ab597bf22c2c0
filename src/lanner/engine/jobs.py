"""What one job does: render, run or resolve a task run, and the result event it produces.

:class:`JobRunner` turns a claimed job and its execution's snapshot into the event the executor
expects (``task_result``, ``resolved``, ``finalized``) plus the log lines written meanwhile. It
never raises for a task's own failure: a render error or an exception is a FAILED result with the
error logged at ERROR. Subflow tasks submit their child execution (through the engine's one door,
:class:`~lanner.engine.submit.Submitter`; idempotently: the child id derives from the task run
and attempt).
A runnable task is its registered class built from the spec's properties; the engine calls its
``run`` with a :class:`TaskContext`. A failure that cannot succeed on retry (unknown type, bad
properties) is reported ``retryable: false``.
A task's working directory lives under the runner's ``work_root`` (one per process, stale ones
of dead processes swept at start) and is removed after the attempt; the children of a
``WorkingDirectory`` task share one (:mod:`lanner.engine.workdirs`). The metrics tasks record
are kept in :attr:`JobRunner.metrics` until the worker stores them with its next flush.
Imports the domain, templating, storage, the store protocols, ``lanner.tasks`` and this package.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from lanner.domain.executions import ExecutionTrigger, TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.input_values import coerce_inputs
from lanner.domain.inputs import InputSpec, InputType
from lanner.domain.labels import Label
from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.metrics import MetricEntry
from lanner.domain.states import StateType
from lanner.domain.times import parse_duration
from lanner.engine import events as ev
from lanner.engine import for_each_item as fei
from lanner.engine import loops
from lanner.engine.context import build_context
from lanner.engine.logging import Masker, task_completed, task_started
from lanner.engine.logwriter import LogWriter
from lanner.engine.snapshots import Snapshot
from lanner.engine.submit import CORRELATION_LABEL, FlowRef, Submitter
from lanner.engine.task_context import TaskContext, TaskFailure, is_truthy, render_tree
from lanner.engine.work import IF, LOOP, LOOPS, PAUSES, SUBFLOW, SWITCH, has_default_run_if
from lanner.engine.workdirs import SharedDirectories, default_work_root, metric_entries
from lanner.errors import ConflictError, NotFoundError, ValidationError
from lanner.storage import LocalStorage
from lanner.store import Job, NewEvent, Store
from lanner.tasks.registry import default_registry
from lanner.telemetry import observe_task
from lanner.templating import TemplateEngine

S = StateType
Result = tuple[NewEvent | None, list[LogEntry]]


DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 * 1024
"""A task's outputs as JSON beyond this: FAILED (``max-task-output-bytes``; files go to storage)."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class JobRunner:
    """Runs jobs against snapshots; holds the template engine and the environment."""

    def __init__(
        self,
        store: Store,
        templates: TemplateEngine,
        *,
        envs: Mapping[str, str] | None = None,
        globals_: Mapping[str, Any] | None = None,
        log_writer: LogWriter | None = None,
        masker: Masker | None = None,
        decrypt: Callable[[str], str] | None = None,
        submitter: Submitter | None = None,
        storage: LocalStorage | None = None,
        work_root: Path | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> None:
        self._store = store
        self.max_output_bytes = max_output_bytes
        self.work_root = work_root or default_work_root()
        # Without one given (tests, tools), a private storage under the process's work root.
        self.storage = storage or LocalStorage(self.work_root / "storage")
        self.shared = SharedDirectories(self.work_root)
        self.metrics: list[MetricEntry] = []
        """Metrics recorded by finished attempts, not stored yet (the worker takes them)."""
        # Subflows' children go through the engine's one door (Engine and WorkerService hand
        # theirs down; this fallback wakes no one: the loop finds the child on its next read).
        self._submitter = submitter or Submitter(store, templates=templates)
        self._decrypt = decrypt  # SECRET inputs → clear text (the runtime's decrypt_input)
        self.templates = templates
        self._envs = dict(envs or {})
        self._globals = dict(globals_ or {})
        self.log_writer = log_writer
        self.masker = masker

    def killed(self, job: Job, snapshot: Snapshot) -> NewEvent:
        payload = {"taskRunId": job.task_run_id, "attempt": job.payload.get("attempt"),
                   "state": S.KILLED.value, "startedAt": _now(), "endedAt": _now()}  # fmt: skip
        return NewEvent(job.execution_id, ev.TASK_RESULT, payload)

    async def run(
        self, job: Job, snapshot: Snapshot, worker_id: str, *, stream_logs: bool = True
    ) -> Result:
        """The job's result event and the log lines it kept: all of them without
        ``stream_logs`` (the executor stores them with its step), else those not streamed
        through the log writer."""
        if job.kind == ev.JOB_FINALIZE:
            return await self._finalize(job, snapshot)
        run = snapshot.runs.get(job.task_run_id)
        spec = snapshot.specs.get(str(job.payload.get("taskId")))
        if run is None or spec is None or run.state.current.is_terminated:
            return None, []
        variables = build_context(
            snapshot.flow, snapshot.execution, snapshot.runs, snapshot.specs, run,
            envs=self._envs, globals_=self._globals, decrypt=self._decrypt,
        )  # fmt: skip
        attempt = int(job.payload.get("attempt") or 1)
        ctx = TaskContext(
            spec, run, snapshot.execution, variables, self.templates, attempt,
            writer=self.log_writer if stream_logs else None, masker=self.masker, kv=self._store,
            triggers=self._store, storage=self.storage, work_root=self.work_root,
            store=self._store,
        )  # fmt: skip
        if job.kind == ev.JOB_RESOLVE and job.payload.get("collect"):
            return await self._collect(job, spec, snapshot, ctx), ctx.logs
        if job.kind == ev.JOB_RESOLVE:
            return await self._resolve(job, spec, ctx), ctx.logs
        shared = self.shared.of(snapshot, run)
        if shared is not None:
            ctx.shared_dir = shared.path
        try:
            if shared is not None:
                await shared.prepare(ctx)
            event = await self._run(job, spec, ctx, worker_id, snapshot)
            if shared is not None:
                event = await shared.after_child(ctx, event)
        except BaseException:
            if shared is not None:
                await asyncio.shield(asyncio.to_thread(shared.remove))
            raise
        finally:
            if ctx.has_directory:
                await asyncio.shield(asyncio.to_thread(ctx.close))
            if ctx.metrics:
                self.metrics.extend(metric_entries(ctx))
        return event, ctx.logs

    def take_metrics(self) -> list[MetricEntry]:
        """The metrics recorded since the last call (for the worker's flush)."""
        taken, self.metrics = self.metrics, []
        return taken

    # -- run -----------------------------------------------------------------------------------

    async def _run(
        self,
        job: Job,
        spec: TaskSpec,
        ctx: TaskContext,
        worker_id: str,
        snapshot: Snapshot | None = None,
    ) -> NewEvent:
        started = _now()
        state, outputs = S.SUCCESS, None
        has_started = False
        extra: dict[str, Any] = {}
        try:
            if not has_default_run_if(spec) and not is_truthy(
                await ctx.render_value(spec.run_if, typed=True)
            ):
                state = S.SKIPPED
            elif spec.type == SUBFLOW:
                outputs, extra = await self._subflow(spec, ctx)
                state = S.RUNNING if extra else S.SUCCESS
            elif spec.type == fei.SPLIT:
                outputs = await self._split(ctx)
            elif spec.type == fei.ITEMS:
                outputs, extra = await self._items(spec, ctx)
                state = S.RUNNING if extra else S.SUCCESS
            elif spec.type == fei.MERGE:
                outputs = await self._merge(spec, ctx, snapshot)
            else:
                task = default_registry.runnable(spec.type, spec.properties)
                task_started(ctx.logger, spec.type)
                has_started = True
                produced = await _with_timeout(spec, task.run(ctx))
                check_output_size(produced, self.max_output_bytes)  # outputs then stay None
                outputs = produced
        except asyncio.CancelledError:
            raise
        except Exception as error:
            state = S.FAILED
            ctx.log(LogLevel.ERROR, _describe(error))
            if isinstance(error, TaskFailure):
                if not error.retryable:
                    extra["retryable"] = False  # the retry policy does not apply (retries.py)
                if error.outputs is not None:
                    outputs = dict(error.outputs)
        if has_started:
            elapsed = datetime.now(UTC) - datetime.fromisoformat(started)
            task_completed(ctx.logger, spec.type, state.value, elapsed)
            observe_task(spec.type, state.value, elapsed.total_seconds())
        if ctx.effects and state is S.SUCCESS:
            extra["effects"] = ctx.effects  # applied by the executor with the result
        payload = {
            "taskRunId": job.task_run_id, "attempt": ctx.attempt, "state": state.value,
            "outputs": dict(outputs) if outputs is not None else None,
            "startedAt": started, "endedAt": _now(), "workerId": worker_id, **extra,
        }  # fmt: skip
        return NewEvent(job.execution_id, ev.TASK_RESULT, payload)

    async def _subflow(
        self, spec: TaskSpec, ctx: TaskContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        raw_inputs = await ctx.typed("inputs", {}) or {}
        child_id = await self._start_child(spec, ctx, raw_inputs, _child_id(ctx.run, ctx.attempt))
        outputs = {"executionId": child_id}
        if spec.properties.get("wait", True) is False:
            return outputs, {}
        return outputs, {"childId": child_id}

    async def _start_child(
        self,
        spec: TaskSpec,
        ctx: TaskContext,
        raw_inputs: Mapping[str, Any],
        execution_id: str,
        variables: Mapping[str, Any] | None = None,
    ) -> str:
        """Submit one execution of the subflow ``spec`` names (Subflow, ForEachItem's items);
        its id derives from the task run and attempt: a redelivered job finds its child."""
        namespace = await ctx.text("namespace") or ""
        flow_id = await ctx.text("flowId") or ""
        revision = await ctx.typed("revision")
        parent = ctx.execution
        flow = FlowRef(
            parent.tenant_id, namespace, flow_id,
            int(revision) if revision is not None else None,
        )  # fmt: skip
        raw_labels = spec.properties.get("labels") or {}
        labels = _labels_of(
            await render_tree(self.templates, raw_labels, variables or ctx.variables, typed=True)
        )
        if spec.properties.get("inheritLabels") is True:
            labels = [*parent.labels, *labels]
        else:  # one correlation id along the whole tree, as Kestra
            labels = [*(lb for lb in parent.labels if lb.key == CORRELATION_LABEL), *labels]
        trigger = ExecutionTrigger(
            id=spec.id,
            type=spec.type,
            variables={
                "executionId": parent.id,
                "namespace": parent.namespace,
                "flowId": parent.flow_id,
                "flowRevision": parent.flow_revision,
                "taskRunId": ctx.run.id if spec.properties.get("wait", True) else None,
            },
        )
        try:
            child = await self._submitter.submit(
                flow, raw_inputs, labels=labels, trigger=trigger, parent_id=parent.id,
                execution_id=execution_id,
            )  # fmt: skip
        except NotFoundError:
            raise TaskFailure(f"subflow {namespace}.{flow_id} not found") from None
        except ValidationError as error:
            problems = ", ".join(f"{d.path}: {d.message}" for d in error.details)
            raise TaskFailure(f"invalid subflow inputs: {problems or error.message}") from None
        except ConflictError as error:
            raise TaskFailure(f"subflow {namespace}.{flow_id}: {error.message}") from None
        return child.id

    # -- ForEachItem's split, items and merge (for_each_item.py) -------------------------------

    async def _split(self, ctx: TaskContext) -> dict[str, Any]:
        uri = await ctx.text("items") or ""
        if not uri.startswith("kestra://"):
            raise TaskFailure(
                f"Unable to split the items from {uri}, this is not an internal storage URI!"
            )
        batch = await ctx.typed("batch", {}) or {}
        if not isinstance(batch, Mapping):
            raise TaskFailure("batch: must be an object (rows, bytes or partitions)")
        try:
            rows = batch.get("rows")
            partitions = batch.get("partitions")
            batches = fei.split_items(
                await ctx.read_file(uri),
                rows=int(rows) if rows is not None else None,
                size=fei.parse_size(batch["bytes"]) if batch.get("bytes") is not None else None,
                partitions=int(partitions) if partitions is not None else None,
                separator=str(batch.get("separator") or "\n"),
            )
        except ValueError as error:
            raise TaskFailure(str(error)) from None
        uris = [await ctx.put_file(f"{i}.txt", data) for i, data in enumerate(batches, 1)]
        listing = "".join(f"{u}\n" for u in uris).encode()
        return {"splits": await ctx.put_file("splits.txt", listing)}

    async def _items(
        self, spec: TaskSpec, ctx: TaskContext
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        split_id = spec.id.removesuffix("_items") + "_split"
        found = (ctx.variables.get("outputs") or {}).get(split_id) or {}
        if "splits" not in found and ctx.run.value is not None:  # inside a loop: by value
            found = found.get(ctx.run.value) or {}
        listing = await ctx.read_file(str(found.get("splits") or ""))
        splits = [line for line in listing.decode().splitlines() if line]
        if not splits:
            return None, {}  # no batch, no subflow (Kestra: no outputs)
        raw = spec.properties.get("inputs") or {}
        child_ids: list[str] = []
        for iteration, uri in enumerate(splits, 1):
            taskrun = {**(ctx.variables.get("taskrun") or {}), "items": uri}
            variables = {**ctx.variables, "taskrun": {**taskrun, "iteration": iteration}}
            inputs = await render_tree(self.templates, raw, variables, typed=True)
            execution_id = _child_id(ctx.run, ctx.attempt, iteration)
            child_ids.append(await self._start_child(spec, ctx, inputs, execution_id, variables))
        outputs: dict[str, Any] = {"numberOfBatches": len(splits)}
        if spec.properties.get("wait", True) is False:
            outputs["iterations"] = {"CREATED": len(splits)}
            return outputs, {}
        outputs["iterations"] = fei.iterations_of(len(splits), {})
        return outputs, {"childIds": child_ids}

    async def _merge(
        self, spec: TaskSpec, ctx: TaskContext, snapshot: Snapshot | None
    ) -> dict[str, Any] | None:
        items_id = spec.id.removesuffix("_merge") + "_items"
        runs = list(snapshot.runs) if snapshot is not None else []
        items = next(
            (
                r for r in runs
                if r.task_id == items_id and r.parent_task_run_id == ctx.run.parent_task_run_id
                and r.value == ctx.run.value
            ),
            None,
        )  # fmt: skip
        child_outputs = items.internal.get("childOutputs") if items is not None else None
        if not child_outputs:
            return None  # no subflow outputs to merge (Kestra: no outputs)
        uri = await ctx.put_file("outputs.ion", fei.merged_lines(child_outputs))
        return {"subflowOutputs": uri}

    # -- resolve -------------------------------------------------------------------------------

    async def _resolve(self, job: Job, spec: TaskSpec, ctx: TaskContext) -> NewEvent:
        payload: dict[str, Any] = {"taskRunId": job.task_run_id, "attempt": ctx.attempt}
        try:
            if not has_default_run_if(spec) and not is_truthy(
                await ctx.render_value(spec.run_if, typed=True)
            ):
                payload["runIf"] = False
            elif spec.type == IF or job.payload.get("check"):  # If, LoopUntil's checks
                payload["condition"] = is_truthy(await ctx.typed("condition"))
            elif spec.type == SWITCH:
                value = str(await ctx.text("value") or "")
                if value not in spec.cases and not spec.branch("defaults"):
                    # Kestra: no case and no defaults leaves nothing to run, the Switch fails.
                    raise TaskFailure(f"No task defined for value '{value}' and no defaults")
                payload["value"] = value
            elif spec.type == LOOP:
                payload["values"], keys = loop_items(await ctx.typed("values"))
                if keys is not None:
                    payload["keys"] = keys
            elif spec.type in LOOPS:
                name = "values" if "values" in spec.properties else "value"
                payload["values"] = loop_values(await ctx.typed(name))
            elif spec.type in PAUSES:
                for name in ("delay", "timeout", "pauseDuration"):
                    text = await ctx.text(name)
                    duration = parse_duration(text) if text else None
                    if duration is not None:
                        payload[name] = duration.total_seconds()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            ctx.log(LogLevel.ERROR, _describe(error))
            payload["error"] = _describe(error)
        return NewEvent(job.execution_id, ev.RESOLVED, payload)

    async def _collect(
        self, job: Job, spec: TaskSpec, snapshot: Snapshot, ctx: TaskContext
    ) -> NewEvent:
        """A Loop's declared ``outputs``, rendered once per iteration in its context."""
        payload: dict[str, Any] = {"taskRunId": job.task_run_id, "attempt": ctx.attempt}
        declared = [o for o in spec.properties.get("outputs") or () if isinstance(o, Mapping)]
        entries: list[dict[str, Any]] = []
        try:
            for index, first in loops.iterations(snapshot.runs, ctx.run):
                if first is None:  # an iteration that never started (killed): no outputs
                    continue
                variables = build_context(
                    snapshot.flow, snapshot.execution, snapshot.runs, snapshot.specs, first,
                    envs=self._envs, globals_=self._globals, decrypt=self._decrypt,
                )  # fmt: skip
                rendered: dict[str, Any] = {}
                for output in declared:
                    kind = str(output.get("type") or "STRING")
                    rendered[str(output["id"])] = await render_tree(
                        self.templates, output.get("value"), variables, typed=kind != "STRING"
                    )
                specs = [
                    InputSpec(str(o["id"]), InputType(str(o.get("type") or "STRING")),
                              required=o.get("required", True) is not False)
                    for o in declared
                ]  # fmt: skip
                entries.append(
                    {
                        "item": loops.loop_item(ctx.run, index),
                        "outputs": coerce_inputs(specs, rendered),
                    }
                )
            payload["outputs"] = entries
        except asyncio.CancelledError:
            raise
        except Exception as error:
            ctx.log(LogLevel.ERROR, f"Failed to render the loop outputs: {_describe(error)}")
            payload["error"] = _describe(error)
        return NewEvent(job.execution_id, ev.RESOLVED, payload)

    # -- finalize ------------------------------------------------------------------------------

    async def _finalize(self, job: Job, snapshot: Snapshot) -> Result:
        variables = build_context(
            snapshot.flow, snapshot.execution, snapshot.runs, snapshot.specs,
            envs=self._envs, globals_=self._globals, decrypt=self._decrypt,
        )  # fmt: skip
        outputs: dict[str, Any] = {}
        logs: list[LogEntry] = []
        try:
            for output in snapshot.flow.outputs:
                # A STRING output is rendered text, as Kestra renders it (an object as JSON).
                typed = output.type is not InputType.STRING
                outputs[output.id] = await render_tree(
                    self.templates, output.value, variables, typed=typed
                )
            # An ARRAY output names no itemType in Kestra: its rendered items are kept.
            untyped = {
                o.id for o in snapshot.flow.outputs
                if o.type is InputType.ARRAY and isinstance(outputs.get(o.id), list)
            }  # fmt: skip
            specs = [
                InputSpec(o.id, o.type, required=o.required)
                for o in snapshot.flow.outputs
                if o.id not in untyped
            ]
            typed_values = {k: v for k, v in outputs.items() if k not in untyped}
            outputs = {**coerce_inputs(specs, typed_values), **{k: outputs[k] for k in untyped}}
        except Exception as error:
            execution = snapshot.execution
            logs.append(
                LogEntry(
                    tenant_id=execution.tenant_id,
                    namespace=execution.namespace,
                    flow_id=execution.flow_id,
                    execution_id=execution.id,
                    level=LogLevel.ERROR,
                    message=f"Failed to render outputs: {_describe(error)}",
                    timestamp=datetime.now(UTC),
                )
            )
            return NewEvent(job.execution_id, ev.FINALIZED, {"error": _describe(error)}), logs
        return NewEvent(job.execution_id, ev.FINALIZED, {"outputs": outputs}), logs


def loop_values(rendered: Any) -> list[str]:
    """ForEach values as strings: a list, or a JSON array in a string; objects as JSON."""
    if isinstance(rendered, str):
        rendered = json.loads(rendered)
    if not isinstance(rendered, list):
        raise TaskFailure(f"values must be a list, got {type(rendered).__name__}")
    nulls = sum(item is None for item in rendered)
    if nulls:  # Kestra refuses them, naming the values
        raise TaskFailure(f"Found '{nulls}' null values on Each, with values={_show(rendered)}")
    return [
        item
        if isinstance(item, str)
        else json.dumps(item, separators=(",", ":"), ensure_ascii=False)
        for item in rendered
    ]


def loop_items(rendered: Any) -> tuple[list[str], list[str] | None]:
    """A Loop's values and, for a map, its keys: a list or a map, or either as JSON text
    (values as strings, objects as JSON, as Kestra coalesces them)."""
    if isinstance(rendered, str):
        text = rendered.strip()
        if text.startswith("kestra://"):
            raise TaskFailure(
                "values: an internal storage URI (one iteration per line) is not supported here"
            )
        try:
            rendered = json.loads(text)
        except ValueError:
            raise TaskFailure(f"values must be a list or a map, got {rendered!r}") from None
    if isinstance(rendered, Mapping):
        keys = [str(key) for key in rendered]
        return loop_values(list(rendered.values())), keys
    return loop_values(rendered), None


def _child_id(run: TaskRun, attempt: int, iteration: int | None = None) -> str:
    key = f"{run.id}:{attempt}" if iteration is None else f"{run.id}:{attempt}:{iteration}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    return digest[:22]


async def _with_timeout(spec: TaskSpec, work: Any) -> Any:
    timeout = spec.properties.get("timeout")
    duration = parse_duration(timeout) if isinstance(timeout, str) else None
    if duration is None:
        return await work
    try:
        return await asyncio.wait_for(work, duration.total_seconds())
    except TimeoutError:
        raise TaskFailure(f"Timeout after {timeout}") from None


def check_output_size(outputs: Any, limit: int) -> None:
    """A :class:`TaskFailure` naming the limit when ``outputs`` as JSON are over ``limit`` bytes:
    outputs live in the execution row and every later render reads them."""
    if not outputs:
        return
    try:
        size = len(orjson.dumps(outputs, default=str))
    except TypeError:  # not JSON-shaped (keys other than text...): measured as text
        size = len(str(outputs).encode("utf-8", "replace"))
    if size > limit:
        raise TaskFailure(
            f"Task outputs are {size} bytes, over the limit of {limit} bytes "
            "(max-task-output-bytes): write large results to a file (outputFiles, storage)",
            retryable=False,
        )


def _describe(error: BaseException) -> str:
    text = str(error)
    return text if isinstance(error, TaskFailure) and text else f"{type(error).__name__}: {text}"


def _show(values: list[Any]) -> str:
    """Values as Java prints a list (``[1, null, {key=value}]``) in Kestra's messages."""

    def one(item: Any) -> str:
        if item is None:
            return "null"
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, Mapping):
            return "{" + ", ".join(f"{k}={one(v)}" for k, v in item.items()) + "}"
        if isinstance(item, list):
            return _show(item)
        return str(item)

    return "[" + ", ".join(one(item) for item in values) + "]"


def _labels_of(raw: Any) -> list[Label]:
    """A Subflow's (ForEachItem's) ``labels``: a map, or Kestra's list of ``{key, value}``."""
    if isinstance(raw, Mapping):
        return [Label(str(k), str(v)) for k, v in raw.items()]
    if isinstance(raw, list):
        return [
            Label(str(item["key"]), str(item.get("value")))
            for item in raw
            if isinstance(item, Mapping) and item.get("key") is not None
        ]
    return []
