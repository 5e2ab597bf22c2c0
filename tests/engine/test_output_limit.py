"""A task whose outputs are over ``max-task-output-bytes`` ends FAILED with a message naming the
limit; smaller outputs pass. Task durations reach the Prometheus histogram. Both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from tests.engine.conftest import Harness

from lanner.domain.logs import LogLevel
from lanner.domain.states import StateType
from lanner.engine.feeds import ChangeFeed
from lanner.engine.service import Engine
from lanner.store import Store

OUTPUT = "io.kestra.plugin.core.output.OutputValues"
LIMIT = 300


def flow(flow_id: str, size: int) -> str:
    return (
        f"id: {flow_id}\nnamespace: company.limits\ntasks:\n"
        f"  - id: out\n    type: {OUTPUT}\n    values:\n      text: {'x' * size}\n"
    )


@pytest.fixture
async def limited(store: Store) -> AsyncIterator[Harness]:
    feed = ChangeFeed()
    engine = Engine(store, feed, worker_concurrency=2, max_output_bytes=LIMIT)
    await engine.start()
    try:
        yield Harness(store, feed, engine)
    finally:
        await engine.stop(grace_s=2.0)


def task_count(state: str) -> float:
    value = REGISTRY.get_sample_value(
        "lanner_task_duration_seconds_count", {"type": OUTPUT, "state": state}
    )
    return value or 0.0


async def test_outputs_over_the_limit_fail_the_task_naming_the_limit(limited: Harness) -> None:
    failed_before = task_count("FAILED")
    execution = await limited.run_flow(flow("big", LIMIT * 2))
    assert execution.state.current is StateType.FAILED
    run = (await limited.runs(execution.id))["out"]
    assert run.state.current is StateType.FAILED
    assert run.outputs is None
    errors = await limited.store.list_logs("main", execution.id, min_level=LogLevel.ERROR)
    messages = " ".join(e.message for e in errors)
    assert "max-task-output-bytes" in messages
    assert f"limit of {LIMIT} bytes" in messages
    assert task_count("FAILED") == failed_before + 1


async def test_outputs_within_the_limit_pass(limited: Harness) -> None:
    succeeded_before = task_count("SUCCESS")
    execution = await limited.run_flow(flow("small", LIMIT // 3))
    assert execution.state.current is StateType.SUCCESS
    run = (await limited.runs(execution.id))["out"]
    assert run.outputs == {"values": {"text": "x" * (LIMIT // 3)}}
    assert task_count("SUCCESS") == succeeded_before + 1
