"""The flow-trigger role: starts the downstream executions of Flow triggers, off the executor's
hot path.

The executor records a :class:`~lanner.store.Transition` in the transaction of each state
change the index watches (every terminal state, and the non-terminal ones some trigger
listens to) and publishes ``FLOW_TRIGGERS_TOPIC``. This role takes the pending transitions in
order; for each, it follows the flows changed since its last look (``changed_flows``: the
:class:`~lanner.engine.flow_triggers.TriggerIndex` stays current without a scan per
execution), reads the upstream execution once when some trigger may fire, evaluates the
candidates (in a thread: templates may call server functions), submits each firing through
:class:`~lanner.engine.submit.Submitter` with an id derived from the transition, then settles
the transition with the windows it changed, in one transaction.

Crash safety: a crash before the settle leaves the transition pending; handled again, it
decides the same (evaluation at the transition's time, the windows as they were) and the
submit of the same derived id returns the execution made the first time. So each downstream
execution is started exactly once. Invalid trigger inputs (or a downstream flow gone or
disabled) start nothing and log a warning, as Kestra; a required input the trigger gives no
value stays absent (Kestra sets the rendered ``inputs`` on the execution unchecked).
Imports the domain, the store protocols, templating and this package.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lanner.domain.executions import Execution, ExecutionTrigger
from lanner.domain.labels import Label
from lanner.domain.times import utc_now
from lanner.engine.conditions import ConditionContext
from lanner.engine.context import build_context
from lanner.engine.events import FLOW_TRIGGERS_TOPIC
from lanner.engine.feeds import ChangeFeed
from lanner.engine.flow_triggers import (
    Evaluation,
    TriggerIndex,
    WatchedTrigger,
    downstream_id,
    evaluate,
    inputs_context,
    trigger_variables,
    windows_by_id,
)
from lanner.engine.resilience import Backoff, StoreLostError
from lanner.engine.runs import RunIndex
from lanner.engine.submit import Submitter, parsed_flow
from lanner.errors import LannerError
from lanner.store import Store, Transition, TriggerWindow, WindowKey
from lanner.templating import TemplateEngine

log = logging.getLogger("lanner.engine.flow_triggers")

TRANSITION_BATCH = 100
SAFETY_POLL_S = 5.0
PURGE_EVERY_S = 60.0
COALESCE_S = 0.05
"""After a wake-up, how long transitions gather before one batch handles them all."""


@dataclass(frozen=True, slots=True)
class Firing:
    """One downstream execution to start."""

    watched: WatchedTrigger
    inputs: Mapping[str, Any]
    labels: tuple[Label, ...] = ()


class FlowTriggerRole:
    """Turns recorded transitions into downstream executions; one active instance (it runs
    beside the executor loop, under the same leadership in multi-node)."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        submitter: Submitter,
        *,
        templates: TemplateEngine | None = None,
        clock: Callable[[], datetime] = utc_now,
        index: TriggerIndex | None = None,
        coalesce_s: float = COALESCE_S,
    ) -> None:
        self._store = store
        self._coalesce_s = coalesce_s
        self._feed = feed
        self._submitter = submitter
        self._templates = templates or TemplateEngine()
        self._clock = clock
        self.index = index if index is not None else TriggerIndex()
        self._since: datetime | None = None
        self._is_loaded = False
        self._stopping = asyncio.Event()
        self.started = 0  # downstream executions submitted (a replayed one counts again)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Handle transitions until :meth:`stop` (woken by the executor's publish)."""
        last_purge = self._clock()
        backoff = Backoff("flow triggers")
        with self._feed.subscribe(FLOW_TRIGGERS_TOPIC) as wake:
            while not self._stopping.is_set():
                try:
                    handled = await self.process_pending()
                    if handled >= TRANSITION_BATCH:
                        continue
                    if not handled:  # follow flow changes (non-terminal states to watch)
                        await self.refresh()
                    now = self._clock()
                    if (now - last_purge).total_seconds() >= PURGE_EVERY_S:
                        last_purge = now
                        await self._store.purge_windows(now)
                    backoff.succeeded()
                except (asyncio.CancelledError, StoreLostError):
                    raise
                except Exception as error:
                    await backoff.pause(error)
                    continue
                await self._wait(wake)

    async def _wait(self, wake: Any) -> None:
        stop = asyncio.ensure_future(self._stopping.wait())
        woken = asyncio.ensure_future(wake.wait(SAFETY_POLL_S))
        try:
            await asyncio.wait({stop, woken}, return_when=asyncio.FIRST_COMPLETED)
            if woken.done() and not stop.done():
                # Let the transitions of the next few steps gather: one read and one settle
                # for all of them, not a commit per execution beside the executor's.
                await asyncio.wait({stop}, timeout=self._coalesce_s)
        finally:
            stop.cancel()
            woken.cancel()

    async def refresh(self) -> None:
        """Follow the flows changed since the last look (all of them the first time)."""
        changed = await self._store.changed_flows(self._since)
        for stored in changed:
            self.index.update(stored)
            if self._since is None or stored.updated > self._since:
                self._since = stored.updated
        self._is_loaded = True

    async def process_pending(self) -> int:
        """Handle one batch of pending transitions; returns how many."""
        transitions = await self._store.pending_transitions(TRANSITION_BATCH)
        if not transitions:
            return 0
        await self.refresh()
        # Those no trigger listens to are settled together (one writer transaction); the
        # others in order, since they share windows.
        idle = [t for t in transitions if not self.index.candidates(t)]
        await asyncio.gather(*(self._store.settle_transition(int(t.id or 0)) for t in idle))
        for transition in transitions:
            if transition not in idle:
                await self.handle(transition)
        return len(transitions)

    async def handle(self, transition: Transition) -> None:
        """Evaluate, submit what fires, then settle the transition with its window changes."""
        assert transition.id is not None
        candidates = self.index.candidates(transition)
        save: list[TriggerWindow] = []
        delete: list[WindowKey] = []
        if candidates:
            upstream = await self._upstream(transition)
            if upstream is not None:
                execution, variables = upstream
                firings: list[Firing] = []
                for watched in candidates:
                    evaluation, firing = await self._decide(
                        watched, transition, execution, variables
                    )
                    save.extend(evaluation.save)
                    delete.extend(evaluation.delete)
                    if firing is not None:
                        firings.append(firing)
                # Together: the store's writer commits them in one transaction.
                await asyncio.gather(*(self._submit(transition, execution, f) for f in firings))
        await self._store.settle_transition(transition.id, save=save, delete=delete)

    async def _upstream(self, transition: Transition) -> tuple[Execution, dict[str, Any]] | None:
        """The ending execution and what templates see of it (its outputs, labels...)."""
        execution = await self._store.get_execution(transition.tenant_id, transition.execution_id)
        if execution is None:
            return None  # deleted since: nothing to react to
        # The execution as it was at the transition (it may have moved on since).
        if execution.state.current is not transition.state:
            execution = execution.with_state(transition.state, transition.at)
        stored = await self._store.get_flow(
            execution.tenant_id,
            execution.namespace,
            execution.flow_id,
            revision=execution.flow_revision,
            allow_deleted=True,
        )
        if stored is None:
            return None
        flow = parsed_flow(stored.source)
        runs = await self._store.list_task_runs(execution.id)
        specs = {spec.id: spec for spec in flow.all_tasks()}
        variables = build_context(flow, execution, RunIndex(runs), specs)
        return execution, variables

    async def _decide(
        self,
        watched: WatchedTrigger,
        transition: Transition,
        execution: Execution,
        variables: dict[str, Any],
    ) -> tuple[Evaluation, Firing | None]:
        tenant, namespace, flow_id = watched.key
        windows: dict[str, TriggerWindow] = {}
        if watched.multiples:
            stored = await self._store.get_windows(tenant, namespace, flow_id)
            windows = windows_by_id(stored, watched)
        # The downstream flow's ``flow``, the upstream execution's everything else (Kestra).
        own = {**variables, "flow": {**variables["flow"], "id": flow_id, "namespace": namespace,
                                     "revision": watched.stored.revision, "tenantId": tenant}}  # fmt: skip
        ctx = ConditionContext(
            flow=watched.flow,
            now=transition.at,
            render=self._templates.render_typed,
            execution=execution,
            variables=own,
        )

        def work() -> tuple[Evaluation, Firing | None]:
            evaluation = evaluate(watched, ctx, windows, transition.at)
            if not evaluation.fires:
                return evaluation, None
            raw = watched.trigger.properties.get("inputs") or {}
            try:
                inputs = self._templates.render_tree(
                    dict(raw), inputs_context(own, execution), typed=True
                )
            except Exception as error:  # a template error: no execution, as Kestra
                log.warning(
                    "Failed to trigger flow %s.%s for trigger %s, invalid inputs: %s",
                    namespace, flow_id, watched.trigger.id, error,
                )  # fmt: skip
                return evaluation, None
            labels = trigger_labels(self._templates, watched.trigger.properties.get("labels"), own)
            return evaluation, Firing(watched, inputs, labels)

        return await asyncio.to_thread(work)

    async def _submit(self, transition: Transition, execution: Execution, firing: Firing) -> None:
        watched = firing.watched
        trigger = ExecutionTrigger(
            id=watched.trigger.id,
            type=watched.trigger.type,
            variables=trigger_variables(execution),
        )
        try:
            await self._submitter.submit(
                watched.stored,
                firing.inputs,
                labels=firing.labels,
                trigger=trigger,
                execution_id=downstream_id(transition, watched),
                missing_required=True,  # as Kestra: the rendered inputs, unchecked for presence
            )
        except LannerError as error:  # inputs refused, flow disabled: nothing starts
            _, namespace, flow_id = watched.key
            log.warning(
                "Failed to trigger flow %s.%s for trigger %s: %s",
                namespace, flow_id, watched.trigger.id, error,
            )  # fmt: skip
            return
        self.started += 1


def trigger_labels(
    templates: TemplateEngine, raw: Any, variables: Mapping[str, Any]
) -> tuple[Label, ...]:
    """The trigger's ``labels`` (a map or a key/value list), values rendered; one that fails to
    render is left out (Kestra's ``LabelService.fromTrigger``)."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = [(item.get("key"), item.get("value")) for item in raw if isinstance(item, Mapping)]
    labels: list[Label] = []
    for key, value in pairs:
        try:
            text = templates.render(str(value), variables)
        except Exception:  # a template error: this label is omitted
            log.warning("Failed to render label '%s', it will be omitted", key)
            continue
        labels.append(Label(str(key), text))
    return tuple(labels)
