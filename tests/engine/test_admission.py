"""New executions handed straight to the executor loop of the process (``LocalResults.admit``):
inserted with their first step in one transaction, with the usual way as the fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lanner.domain.states import StateType
from lanner.engine.feeds import ChangeFeed, execution_topic
from lanner.engine.service import Engine
from lanner.engine.submit import FlowRef, Submitter
from lanner.errors import StoreUnavailableError
from lanner.flows import flow_document, parse_flow
from lanner.store import NewFlowRevision, Store

FLOW = """
id: two
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "one"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.first.value }} two"
"""


class FlakyStore:
    """The real store whose ``apply_steps`` fails the first ``failures`` times; records the
    executions stored through ``create_execution`` (the usual way)."""

    def __init__(self, store: Store, failures: int = 0) -> None:
        self._store = store
        self.failures = failures
        self.created: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def apply_steps(self, steps: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailableError("the database went away")
        return await self._store.apply_steps(steps, **kwargs)

    async def create_execution(self, execution: Any) -> None:
        self.created.append(execution.id)
        await self._store.create_execution(execution)


async def deploy(store: Store) -> None:
    flow = parse_flow(FLOW)
    await store.add_flow_revision(
        NewFlowRevision("main", flow.namespace, flow.id, FLOW, flow_document(flow)),
        expected_revision=None,
    )


async def ended(store: Store, feed: ChangeFeed, execution_id: str) -> StateType:
    with feed.subscribe(execution_topic(execution_id)) as changes:
        for _ in range(200):
            execution = await store.get_execution("main", execution_id)
            if execution is not None and execution.state.is_terminated:
                return execution.state.current
            await changes.wait(0.1)
    raise AssertionError(f"execution {execution_id} did not end")


@pytest.fixture
async def flaky(store: Store) -> AsyncIterator[tuple[FlakyStore, ChangeFeed, Engine, Submitter]]:
    await deploy(store)
    spy = FlakyStore(store)
    feed = ChangeFeed()
    submitter = Submitter(spy, feed)  # type: ignore[arg-type]
    engine = Engine(spy, feed, submitter=submitter)  # type: ignore[arg-type]
    await engine.start()
    try:
        yield spy, feed, engine, submitter
    finally:
        await engine.stop(grace_s=2.0)


async def test_a_new_execution_is_inserted_by_its_first_step(
    flaky: tuple[FlakyStore, ChangeFeed, Engine, Submitter], store: Store
) -> None:
    spy, feed, engine, submitter = flaky
    execution = await submitter.submit(FlowRef("main", "company.team", "two"))
    # Durable when submit returns: the row is there, written by the loop's step.
    stored = await store.get_execution("main", execution.id)
    assert stored is not None
    assert spy.created == []
    assert engine.loop.executions_admitted == 1
    assert await ended(store, feed, execution.id) is StateType.SUCCESS
    runs = await store.list_task_runs(execution.id)
    assert [run.task_id for run in runs] == ["first", "second"]
    assert runs[1].outputs == {"value": "one two"}
    assert await store.due_events(datetime.now(UTC) + timedelta(days=1), 10) == []  # no row


async def test_a_failed_write_hands_the_execution_back_to_the_usual_way(
    flaky: tuple[FlakyStore, ChangeFeed, Engine, Submitter], store: Store
) -> None:
    spy, feed, engine, submitter = flaky
    spy.failures = 1
    execution = await submitter.submit(FlowRef("main", "company.team", "two"))
    assert spy.created == [execution.id]  # refused by the failed batch, stored by the submit
    assert engine.loop.executions_admitted == 0
    assert await ended(store, feed, execution.id) is StateType.SUCCESS
    runs = await store.list_task_runs(execution.id)
    assert sorted(run.task_id for run in runs) == ["first", "second"]  # each once


async def test_many_submits_at_once_share_the_writes(
    flaky: tuple[FlakyStore, ChangeFeed, Engine, Submitter], store: Store
) -> None:
    _, feed, engine, submitter = flaky
    executions = await asyncio.gather(
        *(submitter.submit(FlowRef("main", "company.team", "two")) for _ in range(40))
    )
    states = [await ended(store, feed, execution.id) for execution in executions]
    assert states == [StateType.SUCCESS] * 40
    assert engine.loop.executions_admitted == 40
    # Group-committed: fewer writes than executions.
    assert engine.loop.batches_applied < 40


async def test_without_a_running_loop_the_submit_stores_the_execution(store: Store) -> None:
    await deploy(store)
    spy = FlakyStore(store)
    feed = ChangeFeed()
    submitter = Submitter(spy, feed)  # type: ignore[arg-type]
    engine = Engine(spy, feed, submitter=submitter)  # type: ignore[arg-type]
    execution = await submitter.submit(FlowRef("main", "company.team", "two"))  # not started
    assert spy.created == [execution.id]
    await engine.start()
    try:
        assert await ended(store, feed, execution.id) is StateType.SUCCESS
    finally:
        await engine.stop(grace_s=2.0)
    after = await submitter.submit(FlowRef("main", "company.team", "two"))  # stopped
    assert spy.created == [execution.id, after.id]


async def test_the_end_is_left_for_a_waiter_and_only_for_one(
    flaky: tuple[FlakyStore, ChangeFeed, Engine, Submitter], store: Store
) -> None:
    _, feed, _, submitter = flaky
    from lanner.domain.executions import new_id

    execution_id = new_id()
    with feed.subscribe(execution_topic(execution_id)) as changes, feed.ends.awaiting(execution_id):
        await submitter.submit(
            FlowRef("main", "company.team", "two"), execution_id=execution_id, is_new_id=True
        )
        for _ in range(100):
            left = feed.ends.take(execution_id)
            if left is not None:
                break
            await changes.wait(0.1)
        else:
            raise AssertionError("no end left for the waiter")
    execution, runs = left
    stored = await store.get_execution("main", execution_id)
    assert stored == execution
    assert await store.list_task_runs(execution_id) == runs
    # Not awaited: nothing kept.
    unawaited = await submitter.submit(FlowRef("main", "company.team", "two"))
    await ended(store, feed, unawaited.id)
    assert feed.ends.take(unawaited.id) is None
