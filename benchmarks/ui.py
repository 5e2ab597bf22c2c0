"""Web UI figures, printed as JSON lines: the execution page of a large execution.

Seeds one execution with ``--task-runs`` task runs (a ForEach's children) and ``--lines`` log
lines straight through the store, serves the app with uvicorn on a real socket, and measures:

- ``execution_page_server``: GET of the page's HTML (ms, p50 over ``--rounds``) and its size;
- ``execution_page_browser``: headless Chromium (Debian's, via Playwright) from navigation to
  first contentful paint and to ``load`` (ms, p50), and to the log viewer holding every line
  (``all_lines_ms_p50``: its pages fetched, rows kept in memory, visible ones drawn), when
  Chromium and Playwright are present.

Goal (issue #13): first paint under one second with 10,000 task runs and 100,000 log lines.

Run: ``python benchmarks/ui.py [--task-runs 10000] [--lines 100000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
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
from lanner.domain.logs import LogEntry, LogLevel  # noqa: E402
from lanner.domain.states import StateType  # noqa: E402
from lanner.flows import flow_document, parse_flow  # noqa: E402
from lanner.store import ExecutionStep, NewFlowRevision, Store, open_store  # noqa: E402

FLOW = """\
id: big
namespace: bench.ui
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, 10000) }}"
    tasks:
      - id: work
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
"""


async def seed(store: Store, task_runs: int, lines: int) -> Execution:
    flow = parse_flow(FLOW)
    await store.add_flow_revision(
        NewFlowRevision("main", flow.namespace, flow.id, FLOW, flow_document(flow)),
        expected_revision=None,
    )
    start = datetime.now(UTC) - timedelta(hours=1)
    end = start + timedelta(minutes=30)
    execution = Execution(
        id=new_id(),
        tenant_id="main",
        namespace=flow.namespace,
        flow_id=flow.id,
        flow_revision=1,
        state=State.of(StateType.RUNNING, start).to(StateType.SUCCESS, end),
    )
    await store.create_execution(execution)
    parent = TaskRun(
        id=new_id(),
        tenant_id="main",
        execution_id=execution.id,
        namespace=flow.namespace,
        flow_id=flow.id,
        task_id="each",
        state=State.of(StateType.RUNNING, start).to(StateType.SUCCESS, end),
    )
    runs = [parent]
    step = timedelta(seconds=1800 / max(task_runs, 1))
    for index in range(task_runs - 1):
        at = start + step * index
        runs.append(
            TaskRun(
                id=new_id(),
                tenant_id="main",
                execution_id=execution.id,
                namespace=flow.namespace,
                flow_id=flow.id,
                task_id="work",
                state=State.of(StateType.RUNNING, at).to(StateType.SUCCESS, at + step),
                parent_task_run_id=parent.id,
                value=str(index),
                outputs={"value": index},
            )
        )
    for chunk in range(0, len(runs), 1000):
        await store.apply_steps(
            [ExecutionStep(execution.id, task_runs=tuple(runs[chunk : chunk + 1000]))]
        )
    entries = [
        LogEntry(
            tenant_id="main",
            namespace=flow.namespace,
            flow_id=flow.id,
            execution_id=execution.id,
            task_run_id=runs[1 + index % max(task_runs - 1, 1)].id,
            task_id="work",
            level=LogLevel.INFO,
            message=f"line {index}: processing item with a realistic amount of text",
            timestamp=start + timedelta(milliseconds=index),
        )
        for index in range(lines)
    ]
    for chunk in range(0, len(entries), 5000):
        await store.add_logs(entries[chunk : chunk + 5000])
    return execution


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def browser_figures(url: str, rounds: int, lines: int) -> dict[str, Any] | None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(chromium).exists():
        return None
    paints: list[float] = []
    loads: list[float] = []
    everything: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page()
        for _ in range(rounds + 1):
            page.goto(url, wait_until="load")
            timing = page.evaluate(
                """() => {
                  const nav = performance.getEntriesByType("navigation")[0];
                  const paint = performance.getEntriesByName("first-contentful-paint")[0];
                  return {fcp: paint ? paint.startTime : null, load: nav.loadEventEnd};
                }"""
            )
            if timing["fcp"] is not None:
                paints.append(float(timing["fcp"]))
            loads.append(float(timing["load"]))
            page.wait_for_function(
                f"window.lannerLogs && window.lannerLogs.rows.length >= {lines}", timeout=300_000
            )
            everything.append(float(page.evaluate("performance.now()")))
        browser.close()
    paints, loads, everything = paints[1:], loads[1:], everything[1:]  # round 1 warms caches
    return {
        "first_contentful_paint_ms_p50": round(statistics.median(paints), 1) if paints else None,
        "load_ms_p50": round(statistics.median(loads), 1),
        "all_lines_ms_p50": round(statistics.median(everything), 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task-runs", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        store = open_store(settings.effective_database_url)
        await store.start()
        began = time.perf_counter()
        execution = await seed(store, args.task_runs, args.lines)
        seeded_s = time.perf_counter() - began
        port = free_port()
        app = create_app(Services(settings=settings, store=store))
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{port}/ui/main/executions/bench.ui/big/{execution.id}"
        durations: list[float] = []
        size = 0
        async with httpx.AsyncClient(timeout=60) as client:
            for _ in range(args.rounds + 1):
                t0 = time.perf_counter()
                response = await client.get(url)
                durations.append((time.perf_counter() - t0) * 1000)
                size = len(response.content)
                assert response.status_code == 200, response.text[:200]
        print(
            json.dumps(
                {
                    "figure": "execution_page_server",
                    "task_runs": args.task_runs,
                    "log_lines": args.lines,
                    "seed_s": round(seeded_s, 1),
                    "html_ms_p50": round(statistics.median(durations[1:]), 1),
                    "html_bytes": size,
                }
            )
        )
        result: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: result.update(browser_figures(url, args.rounds, args.lines) or {}),
            daemon=True,
        )
        thread.start()
        await asyncio.to_thread(thread.join)
        if result:
            print(json.dumps({"figure": "execution_page_browser", "goal_ms": 1000, **result}))
        server.should_exit = True
        await serving
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
