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

from lanner.domain.executions import ExecutionTrigger, TaskRun
from lanner.domain.flows import TaskSpec
from lanner.domain.input_values import coerce_inputs
from lanner.domain.inputs import InputSpec
from lanner.domain.labels import Label
from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.metrics import MetricEntry
from lanner.domain.states import StateType
from lanner.domain.times import parse_duration
from lanner.engine import events as ev
from lanner.engine.context import build_context
from lanner.engine.logging import Masker, task_completed, task_started
from lanner.engine.logwriter import LogWriter
from lanner.engine.snapshots import Snapshot
from lanner.engine.submit import CORRELATION_LABEL, FlowRef, Submitter
from lanner.engine.task_context import TaskContext, TaskFailure, is_truthy, render_tree
from lanner.engine.work import IF, LOOPS, PAUSES, SUBFLOW, SWITCH, has_default_run_if
from lanner.engine.workdirs import SharedDirectories, default_work_root, metric_entries
from lanner.errors import ConflictError, NotFoundError, ValidationError
from lanner.storage import LocalStorage
from lanner.store import Job, NewEvent, Store
from lanner.tasks.registry import default_registry
from lanner.templating import TemplateEngine

S = StateType
Result = tuple[NewEvent | None, list[LogEntry]]


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
    ) -> None:
        self._store = store
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
        if job.kind == ev.JOB_RESOLVE:
            return await self._resolve(job, spec, ctx), ctx.logs
        shared = self.shared.of(snapshot, run)
        if shared is not None:
            ctx.shared_dir = shared.path
        try:
            if shared is not None:
                await shared.prepare(ctx)
            event = await self._run(job, spec, ctx, worker_id)
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

    async def _run(self, job: Job, spec: TaskSpec, ctx: TaskContext, worker_id: str) -> NewEvent:
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
            else:
                task = default_registry.runnable(spec.type, spec.properties)
                task_started(ctx.logger, spec.type)
                has_started = True
                outputs = await _with_timeout(spec, task.run(ctx))
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
        namespace = await ctx.text("namespace") or ""
        flow_id = await ctx.text("flowId") or ""
        revision = await ctx.typed("revision")
        parent = ctx.execution
        flow = FlowRef(
            parent.tenant_id, namespace, flow_id,
            int(revision) if revision is not None else None,
        )  # fmt: skip
        raw_inputs = await ctx.typed("inputs", {}) or {}
        labels = [Label(k, str(v)) for k, v in (await ctx.typed("labels", {}) or {}).items()]
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
            # The id derives from the task run and attempt: a redelivered job finds its child.
            child = await self._submitter.submit(
                flow, raw_inputs, labels=labels, trigger=trigger, parent_id=parent.id,
                execution_id=_child_id(ctx.run, ctx.attempt),
            )  # fmt: skip
        except NotFoundError:
            raise TaskFailure(f"subflow {namespace}.{flow_id} not found") from None
        except ValidationError as error:
            problems = ", ".join(f"{d.path}: {d.message}" for d in error.details)
            raise TaskFailure(f"invalid subflow inputs: {problems or error.message}") from None
        except ConflictError as error:
            raise TaskFailure(f"subflow {namespace}.{flow_id}: {error.message}") from None
        outputs = {"executionId": child.id}
        if spec.properties.get("wait", True) is False:
            return outputs, {}
        return outputs, {"childId": child.id}

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
                payload["value"] = str(await ctx.text("value") or "")
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
                outputs[output.id] = await render_tree(
                    self.templates, output.value, variables, typed=True
                )
            specs = [InputSpec(o.id, o.type, required=o.required) for o in snapshot.flow.outputs]
            outputs = coerce_inputs(specs, outputs)
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
    return [
        item
        if isinstance(item, str)
        else json.dumps(item, separators=(",", ":"), ensure_ascii=False)
        for item in rendered
    ]


def _child_id(run: TaskRun, attempt: int) -> str:
    digest = hashlib.sha256(f"{run.id}:{attempt}".encode()).hexdigest()
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


def _describe(error: BaseException) -> str:
    text = str(error)
    return text if isinstance(error, TaskFailure) and text else f"{type(error).__name__}: {text}"
