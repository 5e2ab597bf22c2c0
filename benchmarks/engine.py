"""Engine figures, in process on embedded SQLite (or ``--database-url``), printed as JSON.

- ``sequential_100``: one execution of 100 sequential Return tasks: time per task;
- ``concurrent_2task``: many 2-task executions submitted at once: executions per second;
- ``foreach_<n>``: a ForEach over n values (``concurrencyLimit`` 0 and 1): time per item.

Then the same figures end to end over HTTP, against a real ``lanner server local`` process with
the load from another process (``benchmarks/http_load.py``; ``--no-http`` skips them).

Run: ``python benchmarks/engine.py [--database-url URL] [--executions 500] [--profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
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
from lanner.store import NewFlowRevision, Store, open_store

RET = "io.kestra.plugin.core.debug.Return"


def sequential_flow(count: int) -> str:
    tasks = "".join(f"  - id: t{i}\n    type: {RET}\n    format: '{i}'\n" for i in range(count))
    return f"id: seq{count}\nnamespace: bench\ntasks:\n{tasks}"


TWO_TASKS = (
    f"id: two\nnamespace: bench\ntasks:\n  - id: a\n    type: {RET}\n    format: a\n"
    f"  - id: b\n    type: {RET}\n    format: '{{{{ outputs.a.value }}}}'\n"
)


def foreach_flow(count: int, limit: int) -> str:
    return (
        f"id: each{count}_{limit}\nnamespace: bench\ntasks:\n"
        f"  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n"
        f"    values: '{{{{ range(0, {count - 1}) }}}}'\n    concurrencyLimit: {limit}\n"
        f"    tasks:\n      - id: item\n        type: {RET}\n        format: '{{{{ taskrun.value }}}}'\n"
    )


async def deploy(store: Store, source: str) -> int:
    flow = parse_flow(source)
    stored = await store.add_flow_revision(
        NewFlowRevision("main", flow.namespace, flow.id, source, flow_document(flow)),
        expected_revision=None,
    )
    return stored.revision


async def submit(store: Store, feed: ChangeFeed, source: str, revision: int) -> str:
    flow = parse_flow(source)
    execution = Execution(
        id=new_id(),
        tenant_id="main",
        namespace=flow.namespace,
        flow_id=flow.id,
        flow_revision=revision,
        state=State.of(StateType.CREATED, datetime.now(UTC)),
    )
    await store.create_execution(execution)
    feed.publish(WORK_TOPIC)
    return execution.id


async def wait_terminal(store: Store, feed: ChangeFeed, execution_id: str) -> StateType:
    with feed.subscribe(execution_topic(execution_id)) as changes:
        while True:
            execution = await store.get_execution("main", execution_id)
            assert execution is not None
            if execution.state.current.is_terminated:
                return execution.state.current
            await changes.wait(5.0)


async def run_one(store: Store, feed: ChangeFeed, source: str) -> tuple[float, StateType]:
    revision = await deploy(store, source)
    start = time.perf_counter()
    execution_id = await submit(store, feed, source, revision)
    state = await wait_terminal(store, feed, execution_id)
    return time.perf_counter() - start, state


class Results(list[dict[str, Any]]):
    """Figures, printed as soon as measured."""

    def append(self, result: dict[str, Any]) -> None:
        super().append(result)
        print(json.dumps(result), flush=True)


async def bench(url: str, executions: int, max_items: int) -> list[dict[str, Any]]:
    store = open_store(url)
    await store.start()
    feed = ChangeFeed()
    engine = Engine(store, feed, worker_concurrency=64)
    await engine.start()
    results = Results()
    try:
        elapsed, state = await run_one(store, feed, sequential_flow(100))
        results.append({"name": "sequential_100", "state": state, "total_s": round(elapsed, 3),
                        "ms_per_task": round(elapsed * 1000 / 100, 3)})  # fmt: skip

        revision = await deploy(store, TWO_TASKS)
        start = time.perf_counter()
        ids = [await submit(store, feed, TWO_TASKS, revision) for _ in range(executions)]
        states = [await wait_terminal(store, feed, i) for i in ids]
        elapsed = time.perf_counter() - start
        results.append({"name": "concurrent_2task", "executions": executions,
                        "succeeded": states.count(StateType.SUCCESS),
                        "executions_per_s": round(executions / elapsed, 1)})  # fmt: skip

        for limit in (0, 1):
            for count in (100, max_items):
                elapsed, state = await run_one(store, feed, foreach_flow(count, limit))
                results.append({"name": f"foreach_{count}_limit{limit}", "state": state,
                                "total_s": round(elapsed, 3),
                                "ms_per_item": round(elapsed * 1000 / count, 3)})  # fmt: skip
    finally:
        await engine.stop(1.0)
        await store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--max-items", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="pyinstrument the whole run")
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument("--http-executions", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        if args.profile:
            from pyinstrument import Profiler

            with Profiler(async_mode="enabled") as profiler:
                results = asyncio.run(bench(url, args.executions, args.max_items))
            profiler.print(show_all=False)
        else:
            results = asyncio.run(bench(url, args.executions, args.max_items))
    del results
    if not args.no_http:
        # Loaded by path: ``http`` would name the standard library's package.
        http_bench = _load_http_bench()
        http_bench.run(args.database_url, args.http_executions, args.max_items, timeout_s=400.0)


def _load_http_bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "lanner_http_bench", Path(__file__).with_name("http_load.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
