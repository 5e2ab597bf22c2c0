"""Live snapshots of executions (execution, run index, flow revision) shared by the engine.

The executor loop is the only writer of an execution's task runs, so in one process it keeps
each live execution's snapshot in memory (updated by ``decide`` itself) instead of re-reading
every task run per event, and the local worker reads the same snapshots. A snapshot is dropped
when its execution ends or a write fails, and reloaded from the store on next use. Flow
revisions are parsed once per (tenant, namespace, id, revision).
Imports the domain, the flow parser, the store protocols and this package.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace

from lanner.domain.executions import Execution
from lanner.domain.flows import Flow, TaskSpec
from lanner.engine.executor import task_specs
from lanner.engine.runs import RunIndex
from lanner.flows import parse_flow
from lanner.store import DEFAULT_TENANT, Store

FlowKey = tuple[str, str, str, int]


@dataclass(slots=True)
class Snapshot:
    """One execution as the engine sees it."""

    execution: Execution
    runs: RunIndex
    flow: Flow

    @property
    def specs(self) -> dict[str, TaskSpec]:
        return task_specs(self.flow)


class FlowCache:
    """Parsed flow revisions; a revision never changes, so entries never go stale."""

    def __init__(self, store: Store, max_size: int = 512) -> None:
        self._store = store
        self._flows: OrderedDict[FlowKey, Flow] = OrderedDict()
        self._max_size = max_size

    async def get(self, tenant_id: str, namespace: str, flow_id: str, revision: int) -> Flow | None:
        key = (tenant_id, namespace, flow_id, revision)
        flow = self._flows.get(key)
        if flow is not None:
            self._flows.move_to_end(key)
            return flow
        stored = await self._store.get_flow(
            tenant_id, namespace, flow_id, revision=revision, allow_deleted=True
        )
        if stored is None:
            return None
        flow = replace(parse_flow(stored.source), revision=stored.revision)
        self._flows[key] = flow
        if len(self._flows) > self._max_size:
            self._flows.popitem(last=False)
        return flow


class FlowMissingError(LookupError):
    """The flow revision an execution runs is gone."""


class Snapshots:
    """Snapshots of live executions, loaded on demand."""

    def __init__(self, store: Store, flows: FlowCache, max_size: int = 10_000) -> None:
        self._store = store
        self.flows = flows
        self._live: OrderedDict[str, Snapshot] = OrderedDict()
        self._max_size = max_size

    def cached(self, execution_id: str) -> Snapshot | None:
        return self._live.get(execution_id)

    async def get(self, execution_id: str, tenant_id: str | None = None) -> Snapshot | None:
        """The snapshot (None when the execution does not exist); raises
        :class:`FlowMissingError` when its flow revision cannot be found."""
        snapshot = self._live.get(execution_id)
        if snapshot is not None:
            return snapshot
        loaded = await self._store.load_executions({execution_id: tenant_id or DEFAULT_TENANT})
        if execution_id not in loaded:
            return None
        execution, task_runs = loaded[execution_id]
        runs = RunIndex(task_runs)
        flow = await self.flows.get(
            execution.tenant_id, execution.namespace, execution.flow_id, execution.flow_revision
        )
        if flow is None:
            raise FlowMissingError(
                f"flow {execution.namespace}.{execution.flow_id} revision "
                f"{execution.flow_revision} not found"
            )
        raced = self._live.get(execution_id)  # another coroutine loaded it meanwhile
        if raced is not None:
            return raced
        snapshot = Snapshot(execution, runs, flow)
        self.keep(snapshot)
        return snapshot

    async def preload(self, tenants: Mapping[str, str]) -> None:
        """Load the snapshots of ``tenants`` (execution id → tenant) not held yet, in one
        read; those whose execution or flow revision is missing are left to :meth:`get`."""
        missing = {i: t for i, t in tenants.items() if i not in self._live}
        if not missing:
            return
        for execution, runs in (await self._store.load_executions(missing)).values():
            flow = await self.flows.get(
                execution.tenant_id,
                execution.namespace,
                execution.flow_id,
                execution.flow_revision,
            )
            if flow is not None and execution.id not in self._live:
                self.keep(Snapshot(execution, RunIndex(runs), flow))

    def keep(self, snapshot: Snapshot) -> None:
        self._live[snapshot.execution.id] = snapshot
        self._live.move_to_end(snapshot.execution.id)
        while len(self._live) > self._max_size:
            self._live.popitem(last=False)

    def drop(self, execution_id: str) -> None:
        self._live.pop(execution_id, None)

    def __len__(self) -> int:
        return len(self._live)
