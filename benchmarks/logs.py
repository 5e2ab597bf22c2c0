"""Log figures, embedded SQLite by default (or ``--database-url``), printed as JSON lines.

- ``logger_<n>``: one task's logger writes n lines through the log writer: how long the task
  spent logging (``task_s``) and lines per second until every line is committed;
- ``log_task_<n>``: one execution of a ``Log`` task with a list of n messages, run by the
  engine: lines per second from submission to the execution's end (all lines committed), for
  an execution of a flow revision the engine has run before (``lines_per_s``) and for the
  first one (``first_lines_per_s``: its time includes the engine's one-time parse of the
  n-line flow source, ``parse_s`` of it measured apart);
- ``follow_latency``: lines written one every ``--interval-ms`` while a client follows the
  execution over HTTP (uvicorn on a real socket, the client in its own thread): write → client
  latency, p50/p99 in ms.

``cpu_us_per_line``: this process's CPU time (every thread: the loop, the store's writer) per
line over the same span — steadier than the rates on a shared machine.

Run: ``python benchmarks/logs.py [--database-url URL] [--lines 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# ``benchmarks/http.py`` would shadow the standard library's ``http`` (httpx and uvicorn need it).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from lanner.api.app import create_app  # noqa: E402
from lanner.api.context import Services  # noqa: E402
from lanner.config import Settings  # noqa: E402
from lanner.domain.executions import Execution, State, TaskRun, new_id  # noqa: E402
from lanner.domain.flows import Flow  # noqa: E402
from lanner.domain.logs import LogLevel  # noqa: E402
from lanner.domain.states import StateType  # noqa: E402
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed, execution_topic  # noqa: E402
from lanner.engine.logging import TaskLogger  # noqa: E402
from lanner.engine.logwriter import LogWriter  # noqa: E402
from lanner.engine.service import Engine  # noqa: E402
from lanner.flows import flow_document, parse_flow  # noqa: E402
from lanner.store import NewFlowRevision, Store, open_store  # noqa: E402


async def deploy(store: Store, source: str) -> int:
    flow = parse_flow(source)
    stored = await store.add_flow_revision(
        NewFlowRevision("main", flow.namespace, flow.id, source, flow_document(flow)),
        expected_revision=None,
    )
    return stored.revision


async def submit(store: Store, feed: ChangeFeed, flow: Flow, revision: int) -> str:
    """Create an execution of ``flow`` as the API's ``submit`` does (no parse of the source:
    the API reads the stored flow) and wake the engine."""
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


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def fake_run(execution_id: str) -> tuple[Execution, TaskRun]:
    now = datetime.now(UTC)
    execution = Execution(
        id=execution_id,
        tenant_id="main",
        namespace="bench",
        flow_id="logs",
        flow_revision=1,
        state=State.of(StateType.RUNNING, now),
    )
    run = TaskRun(
        id=f"{execution_id}-run",
        tenant_id="main",
        execution_id=execution_id,
        namespace="bench",
        flow_id="logs",
        task_id="log",
        state=State.of(StateType.RUNNING, now),
    )
    return execution, run


async def bench_logger(store: Store, lines: int) -> None:
    writer = LogWriter(store, ChangeFeed())
    writer.start()
    execution, run = fake_run("bench-logger")
    logger = TaskLogger(execution, run, attempt=1, writer=writer)
    start, cpu = time.perf_counter(), time.process_time()
    for index in range(lines):
        await logger.alog(LogLevel.INFO, f"line {index} of the benchmark")
    task_s = time.perf_counter() - start
    await writer.flush()
    total_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu
    stored = len(await store.list_logs("main", execution.id))
    await writer.stop()
    emit({"name": f"logger_{lines}", "lines": lines, "stored": stored, "batches": writer.batches,
          "task_s": round(task_s, 3), "total_s": round(total_s, 3),
          "lines_per_s": round(lines / total_s),
          "cpu_us_per_line": round(cpu_s / lines * 1e6, 2)})  # fmt: skip


async def bench_log_task(store: Store, lines: int) -> None:
    feed = ChangeFeed()
    engine = Engine(store, feed)
    await engine.start()
    try:
        messages = "".join(f"      - line {index} of the benchmark\n" for index in range(lines))
        source = (
            "id: biglog\nnamespace: bench\ntasks:\n  - id: log\n"
            f"    type: io.kestra.plugin.core.log.Log\n    message:\n{messages}"
        )
        revision = await deploy(store, source)
        start = time.perf_counter()
        flow = parse_flow(source)
        parse_s = time.perf_counter() - start
        runs = []
        for _ in range(2):  # the first pays the engine's parse of the source; the second not
            start, cpu = time.perf_counter(), time.process_time()
            execution_id = await submit(store, feed, flow, revision)
            state = await wait_terminal(store, feed, execution_id)
            total_s = time.perf_counter() - start
            cpu_s = time.process_time() - cpu
            stored = await store.list_logs("main", execution_id, task_id="log")
            count = sum(1 for e in stored if e.message.startswith("line "))
            runs.append((state, total_s, cpu_s, count))
    finally:
        await engine.stop(1.0)
    (first_state, first_s, _, first_stored), (state, total_s, cpu_s, stored_lines) = runs
    emit({"name": f"log_task_{lines}", "state": state, "first_state": first_state,
          "lines": lines, "stored": stored_lines, "first_stored": first_stored,
          "total_s": round(total_s, 3), "lines_per_s": round(lines / total_s),
          "cpu_us_per_line": round(cpu_s / lines * 1e6, 2), "first_s": round(first_s, 3), "first_lines_per_s": round(lines / first_s),
          "parse_s": round(parse_s, 3)})  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def bench_follow(store: Store, tmp: Path, lines: int, interval_s: float) -> None:
    feed = ChangeFeed()
    writer = LogWriter(store, feed)
    writer.start()
    port = free_port()
    app = create_app(Services(settings=Settings(data_dir=tmp), store=store, feed=feed))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    execution, run = fake_run("bench-follow")
    logger = TaskLogger(execution, run, attempt=1, writer=writer)
    latencies: list[float] = []
    connected = threading.Event()

    def follow() -> None:
        url = f"http://127.0.0.1:{port}/api/v1/logs/{execution.id}/follow"
        with httpx.stream("GET", url, timeout=60) as response:
            connected.set()
            for text in response.iter_lines():
                if text.startswith("data:"):
                    written = float(json.loads(text[5:])["message"])
                    latencies.append(time.perf_counter() - written)
                    if len(latencies) >= lines:
                        return

    client = threading.Thread(target=follow, daemon=True)
    client.start()
    await asyncio.to_thread(connected.wait, 30)
    await asyncio.sleep(0.2)
    for _ in range(lines):
        logger.log(LogLevel.INFO, repr(time.perf_counter()))
        await asyncio.sleep(interval_s)
    await asyncio.to_thread(client.join, 60)
    server.should_exit = True
    await serving
    await writer.stop()
    ordered = sorted(latencies)
    emit({"name": "follow_latency", "lines": lines, "received": len(latencies),
          "interval_ms": interval_s * 1000,
          "p50_ms": round(statistics.median(ordered) * 1000, 2),
          "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
          "max_ms": round(ordered[-1] * 1000, 2)})  # fmt: skip


async def bench(url: str, tmp: Path, lines: int, follow_lines: int, interval_s: float) -> None:
    store = open_store(url)
    await store.start()
    try:
        await bench_logger(store, lines)
        await bench_log_task(store, lines)
        await bench_follow(store, tmp, follow_lines, interval_s)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--follow-lines", type=int, default=2_000)
    parser.add_argument("--interval-ms", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(bench(url, Path(tmp), args.lines, args.follow_lines, args.interval_ms / 1000))


if __name__ == "__main__":
    main()
