"""Flow trigger figures, in process on embedded SQLite (or ``--database-url``), printed as JSON.

- ``concurrent_2task_recorded`` / ``..._not_recorded``: many 2-task executions submitted at once,
  executions per second, with the executor recording a transition per execution end (the
  default) and with recording switched off: what the flow-trigger hook costs the executor;
- ``fan_out``: one upstream execution ends and ``--downstream`` flows listen to it: time from
  the upstream's end to the last downstream execution created;
- ``chain``: executions of an upstream each starting one downstream: downstream executions
  started per second by the flow-trigger role.

Run: ``python benchmarks/flow_triggers.py [--database-url URL] [--executions 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lanner.domain.executions import Execution, State, new_id
from lanner.domain.states import StateType
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed, execution_topic
from lanner.engine.service import Engine
from lanner.flows import flow_document, parse_flow
from lanner.store import ExecutionQuery, NewFlowRevision, Store, open_store

RET = "io.kestra.plugin.core.debug.Return"


def two_tasks(flow_id: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: bench\ntasks:\n  - id: a\n    type: {RET}\n    format: a\n"
        f"  - id: b\n    type: {RET}\n    format: '{{{{ outputs.a.value }}}}'\n"
    )


def listener(flow_id: str, upstream: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: bench\ntasks:\n  - id: a\n    type: {RET}\n"
        "    format: '{{ trigger.executionId }}'\ntriggers:\n  - id: on_end\n"
        "    type: io.kestra.plugin.core.trigger.Flow\n    preconditions:\n      id: up\n"
        f"      flows:\n        - namespace: bench\n          flowId: {upstream}\n"
    )


async def deploy(store: Store, source: str) -> int:
    flow = parse_flow(source)
    stored = await store.add_flow_revision(
        NewFlowRevision("main", flow.namespace, flow.id, source, flow_document(flow)),
        expected_revision=None,
    )
    return stored.revision


async def submit(store: Store, feed: ChangeFeed, flow_id: str, revision: int) -> str:
    execution = Execution(
        id=new_id(),
        tenant_id="main",
        namespace="bench",
        flow_id=flow_id,
        flow_revision=revision,
        state=State.of(StateType.CREATED, datetime.now(UTC)),
    )
    await store.create_execution(execution)
    feed.publish(WORK_TOPIC)
    return execution.id


async def wait_terminal(store: Store, feed: ChangeFeed, execution_id: str) -> None:
    with feed.subscribe(execution_topic(execution_id)) as changes:
        while True:
            execution = await store.get_execution("main", execution_id)
            assert execution is not None
            if execution.state.current.is_terminated:
                return
            await changes.wait(5.0)


async def count(store: Store, flow_id: str) -> int:
    page = await store.search_executions(ExecutionQuery("main", "bench", flow_id, size=1))
    return page.total


async def until_count(store: Store, flow_id: str, wanted: int) -> None:
    while True:
        if await count(store, flow_id) >= wanted:
            return
        await asyncio.sleep(0.005)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


async def throughput(store: Store, feed: ChangeFeed, flow_id: str, executions: int) -> float:
    revision = await deploy(store, two_tasks(flow_id))
    start = time.perf_counter()
    ids = [await submit(store, feed, flow_id, revision) for _ in range(executions)]
    for execution_id in ids:
        await wait_terminal(store, feed, execution_id)
    return executions / (time.perf_counter() - start)


async def bench(url: str, executions: int, downstream: int) -> None:
    store = open_store(url)
    await store.start()
    feed = ChangeFeed()
    engine = Engine(store, feed, worker_concurrency=64)
    await engine.start()
    try:
        for recorded in (True, False, True, False):
            decisions = engine.loop._decisions
            decisions._watch = engine.flow_triggers.index.watches if recorded else None
            name = "recorded" if recorded else "not_recorded"
            rate = await throughput(store, feed, f"two_{name}_{new_id()[:6]}", executions)
            emit({"name": f"concurrent_2task_{name}", "executions": executions,
                  "executions_per_s": round(rate, 1)})  # fmt: skip

        engine.loop._decisions._watch = engine.flow_triggers.index.watches
        up_revision = await deploy(store, two_tasks("up"))
        for i in range(downstream):
            await deploy(store, listener(f"down{i}", "up"))
        await engine.flow_triggers.refresh()
        upstream = await submit(store, feed, "up", up_revision)
        await wait_terminal(store, feed, upstream)
        ended = time.perf_counter()
        for i in range(downstream):
            await until_count(store, f"down{i}", 1)
        emit({"name": "fan_out", "downstream": downstream,
              "ms_end_to_last_created": round((time.perf_counter() - ended) * 1000, 1)})  # fmt: skip

        chain_revision = await deploy(store, two_tasks("chain_up"))
        await deploy(store, listener("chain_down", "chain_up"))
        await engine.flow_triggers.refresh()
        start = time.perf_counter()
        for _ in range(executions):
            await submit(store, feed, "chain_up", chain_revision)
        await until_count(store, "chain_down", executions)
        elapsed = time.perf_counter() - start
        emit({"name": "chain", "executions": executions,
              "downstream_started_per_s": round(executions / elapsed, 1)})  # fmt: skip
    finally:
        await engine.stop(1.0)
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--downstream", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(bench(url, args.executions, args.downstream))


if __name__ == "__main__":
    main()
