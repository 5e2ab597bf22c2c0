"""An engine running on the real store (both backends), and helpers to run flows end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from lanner.domain.executions import Execution, State, TaskRun, new_id
from lanner.domain.input_values import coerce_inputs
from lanner.domain.states import StateType
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed, execution_topic
from lanner.engine.service import Engine
from lanner.flows import flow_document, parse_flow
from lanner.store import NewEvent, NewFlowRevision, Store

DEADLINE_S = 20.0


@dataclass
class Harness:
    store: Store
    feed: ChangeFeed
    engine: Engine

    async def deploy(self, source: str) -> int:
        flow = parse_flow(source)
        current = await self.store.get_flow("main", flow.namespace, flow.id)
        stored = await self.store.add_flow_revision(
            NewFlowRevision("main", flow.namespace, flow.id, source, flow_document(flow)),
            expected_revision=current.revision if current else None,
        )
        return stored.revision

    async def start(self, source: str, inputs: Mapping[str, Any] | None = None) -> str:
        revision = await self.deploy(source)
        flow = parse_flow(source)
        execution = Execution(
            id=new_id(),
            tenant_id="main",
            namespace=flow.namespace,
            flow_id=flow.id,
            flow_revision=revision,
            state=State.of(StateType.CREATED, datetime.now(UTC)),
            inputs=coerce_inputs(flow.inputs, inputs or {}),
        )
        await self.store.create_execution(execution)
        self.feed.publish(WORK_TOPIC)
        return execution.id

    async def send(self, execution_id: str, kind: str, payload: Mapping[str, Any]) -> None:
        await self.store.add_events([NewEvent(execution_id, kind, dict(payload))])
        self.feed.publish(WORK_TOPIC)

    async def wait_for(
        self, execution_id: str, *states: StateType, deadline_s: float = DEADLINE_S
    ) -> Execution:
        """Wait (on the execution's topic, with a deadline) until it is in one of ``states``
        (any terminal state when none given)."""
        import asyncio

        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        with self.feed.subscribe(execution_topic(execution_id)) as changes:
            while True:
                execution = await self.store.get_execution("main", execution_id)
                assert execution is not None
                current = execution.state.current
                if (current in states) if states else current.is_terminated:
                    return execution
                left = end - loop.time()
                if left <= 0:
                    raise AssertionError(f"execution still {current} after {deadline_s}s")
                await changes.wait(min(left, 1.0))

    async def runs(self, execution_id: str) -> dict[str, TaskRun]:
        """Task runs by ``task_id`` (``task_id[value]`` inside loops)."""
        runs = await self.store.list_task_runs(execution_id)
        return {(r.task_id if r.value is None else f"{r.task_id}[{r.value}]"): r for r in runs}

    async def run_flow(self, source: str, inputs: Mapping[str, Any] | None = None) -> Execution:
        return await self.wait_for(await self.start(source, inputs))


@pytest.fixture
async def harness(store: Store) -> AsyncIterator[Harness]:
    feed = ChangeFeed()
    engine = Engine(store, feed, worker_concurrency=8, environ={"KESTRA_GREETING": "hello"})
    await engine.start()
    try:
        yield Harness(store, feed, engine)
    finally:
        await engine.stop(grace_s=2.0)
