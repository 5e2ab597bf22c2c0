"""Local SQLite, local PostgreSQL and the cluster side by side, in one run, as JSON lines.

Three setups, one after the other, each on its own fresh store and its own processes:

- ``sqlite``: ``lanner server local`` on embedded SQLite;
- ``postgresql``: ``lanner server local`` on a fresh PostgreSQL database;
- ``cluster``: 1 ``server api`` + 2 ``server executor`` + 2 ``server worker`` processes on a
  fresh PostgreSQL database (the issue's 5-process cluster).

PostgreSQL databases are named ``lanner_bench_<hex>``, created on ``LANNER_TEST_POSTGRES_URL``
(or ``--postgres-url``) and dropped after (``benchmarks/__main__.py``'s ``postgres_database``).
The load comes from this process, with the lean keep-alive client of ``benchmarks/http_load.py``
(imported by path, as ``benchmarks/engine.py`` does). Figures, names prefixed with the setup:

- ``<setup>_http_wait_2task``: one client, a 2-task flow with ``wait=true``: p50/p99 latency;
- ``<setup>_http_throughput_2task_wait``: 32 clients, ``wait=true``, back to back: executions/s;
- ``<setup>_http_throughput_2task``: 32 clients without wait, until every execution has ended;
  both throughput figures add ``all_cpu_ms_per_execution``, the CPU time of every process of the
  setup (``server_cpu_ms_per_execution`` is the API or local process only), and on PostgreSQL
  ``db_transactions_per_execution`` (``pg_stat_database``: every transaction of the database,
  reads included, the benchmark's polling too);
- ``<setup>_burst_20task``: ``--burst`` executions of a 20-task Return flow submitted as fast as
  32 clients can, then polled until all ended; each execution's ``state.endDate`` (from the
  search API) relative to the burst's start gives completion ``first_s``, ``p50_s``, ``p100_s``
  and ``p50_over_p100`` (fair progress, older first, gives about 0.5; everything advancing
  together gives close to 1). When ``p100_after_submitted_s`` is near 0 the server kept up with
  the submissions (no backlog formed), and the ratio measures the submission, not fairness;
- ``<setup>_http_throughput_cpu_<n>worker``: ``--cpu`` executions of a CPU-bound flow (one
  ``TemplatedTask`` rendering a 4,000-iteration loop, ~10 ms of CPU, which runs on a worker: the
  executor runs only pure tasks in its step) from 32 clients without wait, until all ended;
  the cluster measures it with its 2 workers, then stops one (SIGTERM) and measures again
  (``n`` = 2, then 1; a local setup has its one embedded worker), each after a ``VACUUM
  ANALYZE`` (PostgreSQL) and a pause; ``runnable_wait_ms_per_execution_by_role`` is the time
  the roles' main threads were ready to run but had no CPU (``/proc/<pid>/schedstat``: on a
  shared machine, what others took). Run last;
- ``<setup>_rss``: ``VmRSS`` of every process started, by role: ``start_mb`` (up, no request
  yet), ``idle_mb`` (flows deployed, warmed up) and ``after_mb`` (after all the load).

The last line is ``{"name": "summary", ...}``: one row per setup, and the issue's goals (cluster
throughput >= local PostgreSQL, CPU-bound throughput higher with 2 workers than with 1, burst
p50 about half of p100, idle RSS per role <= 60 MB).
A setup that fails prints ``{"name": "<setup>_error", ...}`` and the run goes on.

Run: ``python benchmarks/cluster.py [--executions 3000] [--burst 2000] [--cpu 1000] [--quick]
[--skip-postgres] [--setups sqlite,postgresql,cluster]``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit


def _load_http_bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "lanner_http_bench", Path(__file__).with_name("http_load.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HTTP = _load_http_bench()
BURST_FLOW_ID = "burst20"
BURST_FLOW = HTTP.sequential_flow(20).replace("id: seq20", f"id: {BURST_FLOW_ID}", 1)
CPU_FLOW_ID = "cpu"
CPU_FLOW = (  # one worker task (TemplatedTask is not run in the executor's step) of ~10 ms CPU
    f"id: {CPU_FLOW_ID}\nnamespace: bench\ntasks:\n  - id: work\n"
    "    type: io.kestra.plugin.core.templating.TemplatedTask\n    spec: |\n"
    "      type: io.kestra.plugin.core.debug.Return\n"
    '      format: "{% for i in range(0, 4000) %}{{ i * i }}{% endfor %}"\n'
)
ENDED = ("SUCCESS", "FAILED", "KILLED", "WARNING")
Emit = Callable[[dict[str, Any]], None]
FIGURES: dict[str, dict[str, Any]] = {}  # every figure printed, by name (for the summary)


def output(figure: dict[str, Any]) -> None:
    FIGURES[figure["name"]] = figure
    print(json.dumps(figure), flush=True)


@dataclass
class Process:
    role: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid


@dataclass
class Setup:
    label: str
    port: int
    processes: list[Process]
    stopped: list[Process] = field(default_factory=list)  # ended on purpose, before the end
    database_url: str | None = None  # PostgreSQL: its transactions are counted

    def transactions(self) -> int | None:
        """Transactions committed or rolled back in the setup's PostgreSQL database so far
        (``pg_stat_database``, flushed by each backend about every second)."""
        if self.database_url is None:
            return None
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database"
                " WHERE datname = current_database()"
            ).fetchone()
        return int(row[0]) if row is not None else None

    @property
    def api(self) -> Process:
        return self.processes[0]

    def check_alive(self) -> None:
        for process in self.processes:
            if process.popen.poll() is not None:
                tail = process.log_path.read_bytes()[-2000:].decode(errors="replace")
                raise RuntimeError(
                    f"{process.role} (pid {process.pid}) exited with "
                    f"{process.popen.returncode}: {tail}"
                )

    def cpu_seconds(self) -> float:
        return float(sum(HTTP.cpu_seconds(p.pid) for p in self.processes))

    def settle(self) -> None:
        """Before a figure: PostgreSQL's clean-up of the rows the last ones left runs now
        (``VACUUM ANALYZE``), not during the figure; then a short pause."""
        if self.database_url is not None:
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        time.sleep(2.0)

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds so far of each role's processes (summed)."""
        by_role: dict[str, float] = {}
        for p in self.processes:
            by_role[p.role] = by_role.get(p.role, 0.0) + float(HTTP.cpu_seconds(p.pid))
        return by_role

    def runnable_wait_by_role(self) -> dict[str, float]:
        """Seconds so far each role's main threads were runnable but waiting for a CPU
        (``/proc/<pid>/schedstat``): how much the machine, not the setup, held them back."""
        by_role: dict[str, float] = {}
        for p in self.processes:
            try:
                waited = int(Path(f"/proc/{p.pid}/schedstat").read_text().split()[1]) / 1e9
            except (OSError, IndexError, ValueError):
                waited = 0.0
            by_role[p.role] = by_role.get(p.role, 0.0) + waited
        return by_role

    def cpu_ms_by_role(
        self, before: dict[str, float], count: int, now: dict[str, float] | None = None
    ) -> dict[str, float]:
        """CPU ms per execution of each role since ``before`` (:meth:`cpu_by_role`)."""
        return {
            role: round((seconds - before.get(role, 0.0)) * 1000 / count, 3)
            for role, seconds in (now if now is not None else self.cpu_by_role()).items()
        }


# --- databases and processes -------------------------------------------------------------------


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    import psycopg

    name = f"lanner_bench_{secrets.token_hex(4)}"
    admin = urlunsplit(urlsplit(server_url)._replace(scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def started(label: str, database_url: str | None, *, cluster: bool) -> Iterator[Setup]:
    """Start the setup's processes (server output to log files); terminate them all after."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LANNER_", "KESTRA_"))
        }
        if database_url:
            env["LANNER_DATABASE_URL"] = database_url
        common = ["--data-dir", data_dir]
        port = HTTP.free_port()
        processes: list[Process] = []
        stopped: list[Process] = []  # ended during the run (they leave ``processes``)

        def spawn(role: str, args: list[str]) -> Process:
            log_path = Path(data_dir) / f"{role}-{len(processes)}.log"
            log = log_path.open("wb")
            popen = subprocess.Popen(
                [*HTTP.lanner_command(), "server", *args, *common],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            process = Process(role, popen, log_path, log)
            processes.append(process)
            return process

        try:
            first = spawn(
                "api" if cluster else "local",
                ["api" if cluster else "local", "--host", HTTP.HOST, "--port", str(port)],
            )
            HTTP.wait_healthy(port, first.popen)
            if cluster:  # the API migrated the schema: the other roles start on it
                health: list[tuple[int, Process]] = []
                for role in ("executor", "executor", "worker", "worker"):
                    health_port = HTTP.free_port()
                    health.append(
                        (health_port, spawn(role, [role, "--health-port", str(health_port)]))
                    )
                for health_port, process in health:
                    HTTP.wait_healthy(health_port, process.popen)
                time.sleep(2.0)  # leadership taken, workers listening
            yield Setup(label, port, processes, stopped, database_url)
        finally:
            processes.extend(p for p in stopped if p not in processes)
            for process in processes:
                if process.popen.poll() is None:
                    process.popen.terminate()
            for process in processes:
                try:
                    process.popen.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.popen.kill()
                    process.popen.wait()
                process.log.close()


# --- figures -----------------------------------------------------------------------------------


def rss_of(setup: Setup) -> list[float]:
    return [HTTP.rss_mb(p.pid) for p in setup.processes]


async def wait_latency(setup: Setup, conn: Any, emit: Emit) -> None:
    await HTTP.wait_figure(conn, emit)


async def throughput(setup: Setup, conn: Any, executions: int, emit: Emit) -> None:
    for figure in ("throughput_wait", "throughput"):
        results: list[dict[str, Any]] = []
        cpu_before = setup.cpu_seconds()
        by_role = setup.cpu_by_role()
        transactions_before = setup.transactions()
        await HTTP.throughput_figures(
            conn, setup.port, setup.api.pid, executions, (figure,), results.append
        )
        cpu = setup.cpu_seconds() - cpu_before
        await asyncio.sleep(1.5)  # the backends' statistics are flushed
        transactions_after = setup.transactions()
        for result in results:
            result["all_cpu_ms_per_execution"] = round(cpu * 1000 / result["executions"], 3)
            result["cpu_ms_per_execution_by_role"] = setup.cpu_ms_by_role(
                by_role, result["executions"]
            )
            if transactions_before is not None and transactions_after is not None:
                spent = transactions_after - transactions_before
                result["db_transactions_per_execution"] = round(spent / result["executions"], 2)
            emit(result)
        setup.check_alive()


async def ended_executions(conn: Any, count: int) -> list[dict[str, Any]]:
    """Every ended execution of the burst flow, through the search API, 1,000 a page."""
    states = "".join(f"&state={state}" for state in ENDED)
    found: list[dict[str, Any]] = []
    page = 1
    while len(found) < count:
        path = (
            f"/api/v1/executions/search?namespace=bench&flowId={BURST_FLOW_ID}"
            f"&size=1000&page={page}&sort=state.endDate:asc{states}"
        )
        status, body = await conn.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
        results = json.loads(body)["results"]
        if not results:
            break
        found.extend(results)
        page += 1
    return found


async def burst(setup: Setup, conn: Any, count: int, timeout_s: float, emit: Emit) -> None:
    conns = [HTTP.Connection(setup.port) for _ in range(HTTP.CLIENTS)]
    remaining = [count]

    async def submitting_client(c: Any) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await HTTP.trigger(c, BURST_FLOW_ID, wait=False)

    cpu_before = setup.cpu_seconds()
    start_wall = time.time()
    start = time.perf_counter()
    await asyncio.gather(*(submitting_client(c) for c in conns))
    submitted_s = time.perf_counter() - start
    for c in conns:
        c.close()
    deadline = time.monotonic() + timeout_s
    while (ended := await HTTP.count_ended(conn, BURST_FLOW_ID)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"burst: only {ended} of {count} executions ended")
        setup.check_alive()
        await asyncio.sleep(0.5)
    drained_s = time.perf_counter() - start
    cpu = setup.cpu_seconds() - cpu_before
    executions = await ended_executions(conn, count)
    ends = sorted(
        datetime.fromisoformat(e["state"]["endDate"]).timestamp() - start_wall for e in executions
    )
    states: dict[str, int] = {}
    for e in executions:
        states[e["state"]["current"]] = states.get(e["state"]["current"], 0) + 1
    p50 = ends[(len(ends) - 1) // 2]
    emit({"name": "burst_20task", "executions": count, "tasks_per_execution": 20,
          "states": states, "submitted_s": round(submitted_s, 3),
          "first_s": round(ends[0], 3), "p50_s": round(p50, 3),
          "p90_s": round(ends[int(len(ends) * 0.9) - 1], 3), "p100_s": round(ends[-1], 3),
          "p50_over_p100": round(p50 / ends[-1], 3), "drained_s": round(drained_s, 3),
          "p100_after_submitted_s": round(ends[-1] - submitted_s, 3),
          "task_runs_per_s": round(count * 20 / ends[-1], 1),
          "all_cpu_ms_per_execution": round(cpu * 1000 / count, 3)})  # fmt: skip


async def submit_all(conns: list[Any], flow_id: str, count: int) -> None:
    """``count`` executions of ``flow_id`` without wait, through ``conns`` at once."""
    remaining = [count]

    async def submitting_client(c: Any) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await HTTP.trigger(c, flow_id, wait=False)

    await asyncio.gather(*(submitting_client(c) for c in conns))


async def cpu_throughput(setup: Setup, conn: Any, count: int, emit: Emit) -> None:
    """``count`` executions of the CPU-bound flow from 32 clients without wait, until all
    ended: executions/s with the setup's workers (a cluster: then with one worker less)."""
    workers = [p for p in setup.processes if p.role == "worker"]
    while True:
        setup.settle()
        conns = [HTTP.Connection(setup.port) for _ in range(HTTP.CLIENTS)]
        already = await HTTP.count_ended(conn, CPU_FLOW_ID)
        cpu_before = setup.cpu_seconds()
        by_role = setup.cpu_by_role()
        waited = setup.runnable_wait_by_role()
        start = time.perf_counter()
        await submit_all(conns, CPU_FLOW_ID, count)
        for c in conns:
            c.close()
        deadline = time.monotonic() + 600
        while (ended := await HTTP.count_ended(conn, CPU_FLOW_ID) - already) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"cpu: only {ended} of {count} executions ended")
            setup.check_alive()
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - start
        cpu = setup.cpu_seconds() - cpu_before
        n = max(len(workers), 1)  # a local setup: its one embedded worker
        emit({"name": f"http_throughput_cpu_{n}worker", "clients": HTTP.CLIENTS,
              "executions": count, "workers": n, "executions_per_s": round(count / elapsed, 1),
              "all_cpu_ms_per_execution": round(cpu * 1000 / count, 3),
              "cpu_ms_per_execution_by_role": setup.cpu_ms_by_role(by_role, count),
              "runnable_wait_ms_per_execution_by_role": setup.cpu_ms_by_role(
                  waited, count, setup.runnable_wait_by_role()),
              "wall_s": round(elapsed, 2)})  # fmt: skip
        if len(workers) < 2:
            return
        stopped = workers.pop()  # SIGTERM: it hands its jobs back and exits
        stopped.popen.terminate()
        stopped.popen.wait(timeout=60)
        setup.processes.remove(stopped)
        setup.stopped.append(stopped)


async def measure(
    setup: Setup, executions: int, burst_size: int, burst_timeout_s: float, cpu_count: int
) -> None:
    def emit(result: dict[str, Any]) -> None:
        result["name"] = f"{setup.label}_{result['name']}"
        result["setup"] = setup.label
        result["load_average_1m"] = round(os.getloadavg()[0], 2)  # the machine may be shared
        output(result)

    conn = HTTP.Connection(setup.port)
    start = rss_of(setup)
    for source in (HTTP.TWO_TASKS, HTTP.sequential_flow(20), BURST_FLOW, CPU_FLOW):
        await HTTP.deploy(conn, source)
    for _ in range(20):  # warm up (imports, caches, connections)
        await HTTP.trigger(conn, "two", wait=True)
    await HTTP.trigger(conn, "seq20", wait=True)  # the burst's flow stays untouched until then
    done = await HTTP.trigger(conn, CPU_FLOW_ID, wait=True)
    if done["state"]["current"] != "SUCCESS":
        raise RuntimeError(f"the CPU-bound flow ended {done['state']['current']}")
    idle = rss_of(setup)
    try:
        await wait_latency(setup, conn, emit)
        setup.check_alive()
        await throughput(setup, conn, executions, emit)
        await burst(setup, conn, burst_size, burst_timeout_s, emit)
    finally:
        if all(p.popen.poll() is None for p in setup.processes):
            after = rss_of(setup)
            processes: list[dict[str, Any]] = [
                {"role": p.role, "pid": p.pid, "start_mb": s, "idle_mb": i, "after_mb": a}
                for p, s, i, a in zip(setup.processes, start, idle, after, strict=True)
            ]
            by_role: dict[str, dict[str, list[float]]] = {}
            for row in processes:
                role = by_role.setdefault(
                    row["role"], {"start_mb": [], "idle_mb": [], "after_mb": []}
                )
                role["start_mb"].append(row["start_mb"])
                role["idle_mb"].append(row["idle_mb"])
                role["after_mb"].append(row["after_mb"])
            emit({"name": "rss", "processes": processes, "by_role": by_role,
                  "total_idle_mb": round(sum(idle), 1),
                  "total_after_mb": round(sum(after), 1)})  # fmt: skip
    try:
        if cpu_count:  # last: a cluster ends it with one worker stopped
            await cpu_throughput(setup, conn, cpu_count, emit)
    finally:
        conn.close()


def run_setup(
    label: str,
    database_url: str | None,
    *,
    cluster: bool,
    executions: int,
    burst_size: int,
    burst_timeout_s: float,
    cpu_count: int,
) -> None:
    try:
        with started(label, database_url, cluster=cluster) as setup:
            asyncio.run(measure(setup, executions, burst_size, burst_timeout_s, cpu_count))
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        output({"name": f"{label}_error", "setup": label, "error": repr(error)[:2000]})


# --- summary -----------------------------------------------------------------------------------


def summary(figures: dict[str, dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    def get(label: str, figure: str, key: str) -> Any:
        return figures.get(f"{label}_{figure}", {}).get(key)

    rows = []
    for label in labels:
        by_role = get(label, "rss", "by_role") or {}
        rows.append({
            "setup": label,
            "wait_p50_ms": get(label, "http_wait_2task", "p50_ms"),
            "wait_p99_ms": get(label, "http_wait_2task", "p99_ms"),
            "wait_executions_per_s": get(label, "http_throughput_2task_wait", "executions_per_s"),
            "nowait_executions_per_s": get(label, "http_throughput_2task", "executions_per_s"),
            "burst_p50_s": get(label, "burst_20task", "p50_s"),
            "burst_p100_s": get(label, "burst_20task", "p100_s"),
            "burst_p50_over_p100": get(label, "burst_20task", "p50_over_p100"),
            "cpu_executions_per_s": get(label, "http_throughput_cpu_1worker", "executions_per_s"),
            "cpu_2workers_executions_per_s": get(
                label, "http_throughput_cpu_2worker", "executions_per_s"
            ),
            "rss_start_mb_by_role": {r: max(v["start_mb"]) for r, v in by_role.items()},
            "rss_idle_mb_by_role": {r: max(v["idle_mb"]) for r, v in by_role.items()},
            "rss_after_mb_by_role": {r: max(v["after_mb"]) for r, v in by_role.items()},
            "error": figures.get(f"{label}_error", {}).get("error"),
        })  # fmt: skip
    goals: list[dict[str, Any]] = []
    cluster_rate = get("cluster", "http_throughput_2task_wait", "executions_per_s")
    local_rate = get("postgresql", "http_throughput_2task_wait", "executions_per_s")
    if cluster_rate is not None and local_rate is not None:
        goals.append({"goal": "cluster wait=true throughput >= local PostgreSQL",
                      "value": [cluster_rate, local_rate], "met": cluster_rate >= local_rate})  # fmt: skip
    cluster_rate = get("cluster", "http_throughput_2task", "executions_per_s")
    local_rate = get("postgresql", "http_throughput_2task", "executions_per_s")
    if cluster_rate is not None and local_rate is not None:
        goals.append({"goal": "cluster no-wait throughput >= local PostgreSQL",
                      "value": [cluster_rate, local_rate], "met": cluster_rate >= local_rate})  # fmt: skip
    two = get("cluster", "http_throughput_cpu_2worker", "executions_per_s")
    one = get("cluster", "http_throughput_cpu_1worker", "executions_per_s")
    if two is not None and one is not None:
        goals.append({"goal": "cluster CPU-bound throughput: 2 workers > 1 worker",
                      "value": [two, one], "met": two > one})  # fmt: skip
    for label in labels:
        ratio = get(label, "burst_20task", "p50_over_p100")
        if ratio is not None:
            goals.append({"goal": f"{label} burst p50 about half of p100 (<= 0.6)",
                          "value": ratio, "met": ratio <= 0.6})  # fmt: skip
    for label in labels:
        for role, values in (get(label, "rss", "by_role") or {}).items():
            idle = max(values["start_mb"])
            goals.append({"goal": f"{label} {role} idle RSS (started, no request) <= 60 MB",
                          "value": idle, "met": idle <= 60})  # fmt: skip
    return {"name": "summary", "date": datetime.now(UTC).date().isoformat(), "rows": rows,
            "goals": goals}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url", default=os.environ.get("LANNER_TEST_POSTGRES_URL"))
    parser.add_argument("--executions", type=int, help="2-task executions per throughput figure")
    parser.add_argument("--burst", type=int, help="20-task executions in the burst")
    parser.add_argument("--burst-timeout", type=float, default=1200.0, help="seconds")
    parser.add_argument("--cpu", type=int, help="CPU-bound executions per figure (0: none)")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--setups", default="sqlite,postgresql,cluster", help="comma-separated, of the three"
    )
    args = parser.parse_args()
    # SIGTERM (``timeout``, a CI's cancel) unwinds like Ctrl-C: every started process is ended.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    executions = args.executions or (200 if args.quick else 3000)
    burst_size = args.burst or (100 if args.quick else 2000)
    cpu_count = args.cpu if args.cpu is not None else (200 if args.quick else 1000)
    labels = [label for label in args.setups.split(",") if label]
    if args.skip_postgres or not args.postgres_url:
        labels = [label for label in labels if label == "sqlite"]
    for label in labels:
        if label == "sqlite":
            run_setup("sqlite", None, cluster=False, executions=executions,
                      burst_size=burst_size, burst_timeout_s=args.burst_timeout,
                      cpu_count=cpu_count)  # fmt: skip
        else:
            with postgres_database(args.postgres_url) as url:
                run_setup(label, url, cluster=label == "cluster", executions=executions,
                          burst_size=burst_size, burst_timeout_s=args.burst_timeout,
                          cpu_count=cpu_count)  # fmt: skip
    output(summary(FIGURES, labels))


if __name__ == "__main__":
    main()
