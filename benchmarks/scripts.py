"""Script task figures, in process on embedded SQLite (or ``--database-url``), printed as JSON.

- ``bare_process``: ``/bin/sh -c 'echo hi'`` started and read with asyncio: ms per process;
- ``shell_echo``: one execution of sequential ``shell.Commands`` ``echo`` tasks: ms per task,
  the same with ``Return`` tasks (the engine's own cost per task), and the script task's
  overhead over the bare process start (goal: at most 15 ms);
- ``stdout_lines``: one ``seq 1 N`` task, every line logged and stored: lines per second
  (goal: at least 50,000), and the process's CPU time per line (user + system, every thread:
  a figure that a loaded machine disturbs less than the wall clock).

Run: ``python benchmarks/scripts.py [--database-url URL] [--tasks 50] [--lines 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from lanner.engine.feeds import ChangeFeed
from lanner.engine.service import Engine
from lanner.store import open_store

SHELL = "io.kestra.plugin.scripts.shell.Commands"
RET = "io.kestra.plugin.core.debug.Return"


def _load_engine_bench() -> Any:
    # Loaded by path: the helpers live beside this script, not in a package.
    spec = importlib.util.spec_from_file_location(
        "lanner_engine_bench", Path(__file__).with_name("engine.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


eb = _load_engine_bench()


def tasks_flow(flow_id: str, count: int, task: str) -> str:
    body = "".join(f"  - id: t{i}\n{task}" for i in range(count))
    return f"id: {flow_id}\nnamespace: bench\ntasks:\n{body}"


async def bare_process_ms(count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        process = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", "set -e\necho hi",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        await process.communicate()
    return (time.perf_counter() - start) * 1000 / count


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bench(url: str, tasks: int, lines: int) -> None:
    results = eb.Results()
    bare = await bare_process_ms(tasks * 2)
    results.append({"name": "bare_process", "ms_per_process": round(bare, 3)})
    store = open_store(url)
    await store.start()
    feed = ChangeFeed()
    engine = Engine(store, feed, worker_concurrency=8)
    await engine.start()
    try:
        shell_task = f"    type: {SHELL}\n    commands: [echo hi]\n"
        cpu_before = _cpu_s()
        elapsed, state = await eb.run_one(store, feed, tasks_flow("sh", tasks, shell_task))
        task_cpu_ms = (_cpu_s() - cpu_before) * 1000 / tasks
        per_task = elapsed * 1000 / tasks
        ret_task = f"    type: {RET}\n    format: hi\n"
        ret_elapsed, _ = await eb.run_one(store, feed, tasks_flow("ret", tasks, ret_task))
        results.append({"name": "shell_echo", "state": state, "tasks": tasks,
                        "ms_per_task": round(per_task, 3),
                        "cpu_ms_per_task": round(task_cpu_ms, 3),
                        "return_ms_per_task": round(ret_elapsed * 1000 / tasks, 3),
                        "overhead_over_bare_process_ms": round(per_task - bare, 3),
                        "goal_overhead_ms": 15})  # fmt: skip

        seq_task = f"    type: {SHELL}\n    commands: ['seq 1 {lines}']\n"
        cpu_before = _cpu_s()
        elapsed, state = await eb.run_one(store, feed, tasks_flow("seq", 1, seq_task))
        cpu = _cpu_s() - cpu_before
        results.append({"name": "stdout_lines", "state": state, "lines": lines,
                        "total_s": round(elapsed, 3),
                        "lines_per_s": round(lines / elapsed),
                        "cpu_us_per_line": round(cpu * 1e6 / lines, 2),
                        "goal_lines_per_s": 50_000})  # fmt: skip
    finally:
        await engine.stop(1.0)
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(bench(url, args.tasks, args.lines))


if __name__ == "__main__":
    main()
