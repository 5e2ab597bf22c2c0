"""History at scale: search pages, RSS and bytes per row over a large seeded history, as JSON.

Seeds realistic history straight through the store in bulk (one writer transaction per
``--chunk`` executions, each table one ``executemany``): 20 namespaces (some nested) of 10
flows, executions in every state spread over 90 days, 2 labels and 2 task runs each, 7 log
lines each, one execution in 100 with a ~20 KB output, 20 KV entries per namespace. Then it
starts a real ``lanner server local`` on that database and measures over HTTP (keep-alive)
the first and the tenth page (size 25) of each search endpoint: p50/p99 of ``--requests``
requests each. Also the server's RSS (after start and after the requests) and the bytes
per execution (executions, labels, task runs and their indexes) and per log line.

Figures, one JSON object per line: ``seed`` (seconds), one ``page`` object per endpoint and
page, ``size`` (bytes), ``rss``.

Run: ``python benchmarks/history.py [--executions 100000] [--database URL --reset]``.
``--reset`` empties the PostgreSQL database's ``public`` schema first (never without it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# ``benchmarks/http.py`` would shadow the standard library's ``http`` (httpx needs it).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import httpx  # noqa: E402
from sqlalchemy import Connection, create_engine, insert, text  # noqa: E402

from lanner.config import SQLITE_FILE_NAME  # noqa: E402
from lanner.domain.executions import Attempt, Execution, State, TaskRun  # noqa: E402
from lanner.domain.kv import KVType, KVValue  # noqa: E402
from lanner.domain.labels import Label  # noqa: E402
from lanner.domain.logs import LogEntry, LogLevel  # noqa: E402
from lanner.domain.states import StateType  # noqa: E402
from lanner.flows import flow_document, parse_flow  # noqa: E402
from lanner.store import NewFlowRevision, open_store  # noqa: E402
from lanner.store.sqlalchemy.bulk import BulkStatement  # noqa: E402
from lanner.store.sqlalchemy.engines import normalize_url  # noqa: E402
from lanner.store.sqlalchemy.logs import add_logs  # noqa: E402
from lanner.store.sqlalchemy.rows import execution_values, task_run_values  # noqa: E402
from lanner.store.sqlalchemy.schema import execution_labels, executions, task_runs  # noqa: E402
from lanner.store.sqlalchemy.store import SqlStore  # noqa: E402

HOST = "127.0.0.1"
TENANT = "main"
NAMESPACES = [f"company.team{i}" for i in range(10)] + [
    f"company.team{i}.sub{j}" for i in range(5) for j in range(2)
]
FLOWS_PER_NAMESPACE = 10
KV_PER_NAMESPACE = 20
PAGE_SIZE = 25
# (state, weight): mostly successes, every state present.
STATES = [
    (StateType.SUCCESS, 80),
    (StateType.FAILED, 8),
    (StateType.WARNING, 4),
    (StateType.KILLED, 3),
    (StateType.RUNNING, 3),
    (StateType.CREATED, 1),
    (StateType.PAUSED, 1),
]
FLOW_SOURCE = (
    "id: {flow}\nnamespace: {namespace}\nlabels:\n  owner: bench\ntasks:\n"
    "  - id: extract\n    type: io.kestra.plugin.core.debug.Return\n    format: extract\n"
    "  - id: load\n    type: io.kestra.plugin.core.log.Log\n    message: load\n"
)
_INSERT_EXECUTION = BulkStatement(insert(executions))
_INSERT_LABEL = BulkStatement(insert(execution_labels))
_INSERT_TASK_RUN = BulkStatement(insert(task_runs))


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


# --- seeding -----------------------------------------------------------------------------------


def history_rows(
    index: int, total: int, rng: random.Random, now: datetime
) -> tuple[Execution, list[TaskRun], list[LogEntry]]:
    """Execution number ``index`` of ``total``: starts spread over 90 days, oldest first."""
    namespace = NAMESPACES[rng.randrange(len(NAMESPACES))]
    flow_id = f"flow{rng.randrange(FLOWS_PER_NAMESPACE)}"
    start = now - timedelta(days=90) * (1 - index / total) + timedelta(seconds=rng.random())
    final = rng.choices([s for s, _ in STATES], [w for _, w in STATES])[0]
    execution_id = f"e{index:09d}{rng.randrange(16**6):06x}"
    running = State.of(StateType.CREATED, start).to(StateType.RUNNING, start + timedelta(0.001))
    state = running if final is StateType.RUNNING else running.to(final, start + timedelta(0.01))
    if final is StateType.CREATED:
        state = State.of(StateType.CREATED, start)
    outputs = {"report": "x" * 20_000} if index % 100 == 0 else {"rows": index % 997}
    execution = Execution(
        id=execution_id,
        tenant_id=TENANT,
        namespace=namespace,
        flow_id=flow_id,
        flow_revision=1,
        state=state,
        inputs={"date": start.date().isoformat()},
        outputs=outputs if final is StateType.SUCCESS else {},
        labels=(Label("env", rng.choice(("prod", "dev"))), Label("team", namespace[8:14])),
    )
    runs = []
    for position, task_id in enumerate(("extract", "load")):
        run_state = State.of(StateType.CREATED, start).to(StateType.RUNNING, start)
        run_state = run_state.to(
            final if final.is_terminated else StateType.SUCCESS, start + timedelta(0.005)
        )
        runs.append(
            TaskRun(
                id=f"{execution_id}-{position}",
                tenant_id=TENANT,
                execution_id=execution_id,
                namespace=namespace,
                flow_id=flow_id,
                task_id=task_id,
                state=run_state,
                attempts=(Attempt(run_state, "worker-1"),),
                outputs={"value": f"{task_id} {index}"},
            )
        )
    messages = [
        (LogLevel.INFO, f"Starting execution {execution_id} of {namespace}.{flow_id}"),
        (LogLevel.DEBUG, f"Resolved 3 inputs for run {index}"),
        (LogLevel.INFO, f"extract: read {index % 5000} rows from table orders_{index % 37}"),
        (LogLevel.INFO, f"extract: wrote file kestra:///tmp/{execution_id}/out.csv"),
        (LogLevel.INFO, f"load: inserted {index % 5000} rows into warehouse.orders"),
        (
            (LogLevel.ERROR, f"load: connection timeout after 30s (code E{index % 1000})")
            if final is StateType.FAILED
            else (LogLevel.INFO, "load: committed the transaction")
        ),
        (LogLevel.INFO, f"Execution {execution_id} ended {final.value}"),
    ]
    lines = [
        LogEntry(
            tenant_id=TENANT,
            namespace=namespace,
            level=level,
            message=message,
            timestamp=start + timedelta(milliseconds=line),
            flow_id=flow_id,
            execution_id=execution_id,
            task_run_id=runs[0 if line < 4 else 1].id,
            task_id=runs[0 if line < 4 else 1].task_id,
            attempt_number=1,
            thread="worker-1",
        )
        for line, (level, message) in enumerate(messages)
    ]
    return execution, runs, lines


def write_chunk(
    conn: Connection, chunk: list[tuple[Execution, list[TaskRun], list[LogEntry]]], now: datetime
) -> None:
    _INSERT_EXECUTION.execute(conn, [execution_values(e, now) for e, _, _ in chunk])
    _INSERT_LABEL.execute(
        conn,
        [
            {"tenant_id": e.tenant_id, "execution_id": e.id, "key": lb.key, "value": lb.value}
            for e, _, _ in chunk
            for lb in e.labels
        ],
    )
    _INSERT_TASK_RUN.execute(
        conn, [task_run_values(r, p, now) for _, runs, _ in chunk for p, r in enumerate(runs)]
    )
    add_logs(conn, [line for _, _, lines in chunk for line in lines])


async def seed(url: str, total: int, chunk_size: int) -> dict[str, Any]:
    store = open_store(url)
    assert isinstance(store, SqlStore)
    await store.start()
    rng = random.Random(42)
    now = datetime.now(UTC)
    started = time.perf_counter()
    try:
        for namespace in NAMESPACES:
            for number in range(FLOWS_PER_NAMESPACE):
                source = FLOW_SOURCE.format(flow=f"flow{number}", namespace=namespace)
                flow = parse_flow(source)
                await store.add_flow_revision(
                    NewFlowRevision(
                        TENANT,
                        namespace,
                        flow.id,
                        source,
                        flow_document(flow),
                        labels={"owner": "bench"},
                    ),
                    expected_revision=None,
                )
            for number in range(KV_PER_NAMESPACE):
                await store.put_kv(
                    TENANT, namespace, f"key{number:03d}", KVValue(KVType.STRING, f"v{number}")
                )
        for first in range(0, total, chunk_size):
            chunk = [
                history_rows(index, total, rng, now)
                for index in range(first, min(total, first + chunk_size))
            ]
            await store.writer.submit(lambda conn, chunk=chunk: write_chunk(conn, chunk, now))
    finally:
        await store.close()
    seconds = time.perf_counter() - started
    return {"name": "seed", "executions": total, "log_lines": total * 7,
            "seconds": round(seconds, 1),
            "executions_per_s": round(total / seconds)}  # fmt: skip


def reset_postgres(url: str) -> None:
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def sizes(url: str, total: int) -> dict[str, Any]:
    """Bytes on disk of the execution tables (with their indexes) and of the logs."""
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text(
                    "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                    "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1"
                )
            ).all()
            by_table = {name: int(size) for name, size in rows}
            database = sum(by_table.values())
        else:
            rows = conn.execute(
                text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind = 'r'"
                )
            ).all()
            by_table = {name: int(size) for name, size in rows}
            database = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    # FTS shadow tables (``logs_fts_*``) count with the logs.
    log_bytes = sum(size for name, size in by_table.items() if name.startswith("logs"))
    execution_bytes = sum(
        by_table.get(name, 0) for name in ("executions", "execution_labels", "task_runs")
    )
    return {"name": "size", "database_bytes": database,
            "bytes_per_execution": round(execution_bytes / total),
            "bytes_per_log_line": round(log_bytes / (total * 7)),
            "tables": by_table}  # fmt: skip


# --- measuring ---------------------------------------------------------------------------------


def endpoints() -> list[tuple[str, str]]:
    namespace, flow = "company.team3", "flow2"
    return [
        ("executions_search_namespace", f"/api/v1/executions/search?namespace={namespace}"),
        ("executions_search_all", "/api/v1/executions/search?"),
        ("executions_search_failed", "/api/v1/executions/search?state=FAILED"),
        ("executions_flow", f"/api/v1/executions?namespace={namespace}&flowId={flow}"),
        ("logs_search_namespace", f"/api/v1/logs/search?namespace={namespace}"),
        ("logs_search_q_common", "/api/v1/logs/search?q=warehouse.orders"),
        ("logs_search_q_rare", "/api/v1/logs/search?q=code%20e42"),
        ("flows_search", "/api/v1/flows/search?namespace=company"),
        ("kv_list", f"/api/v1/namespaces/{namespace}/kv"),
    ]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(port: int, pid: int, requests: int) -> None:
    rss_start = rss_kb(pid)
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=120) as client:
        for name, path in endpoints():
            for page in (1, 10):
                if name == "kv_list" and page > 1:
                    continue
                url = path if name == "kv_list" else f"{path}&page={page}&size={PAGE_SIZE}"
                latencies = []
                body: dict[str, Any] | list[Any] = {}
                for attempt in range(requests + 3):
                    start = time.perf_counter()
                    response = client.get(url)
                    elapsed = time.perf_counter() - start
                    if response.status_code != 200:
                        raise RuntimeError(f"GET {url}: {response.status_code} {response.text}")
                    if attempt >= 3:  # warm-up requests are not counted
                        latencies.append(elapsed)
                    body = response.json()
                latencies.sort()
                results = body if isinstance(body, list) else body["results"]
                emit({"name": "page", "endpoint": name, "page": page,
                      "results": len(results),
                      "total": None if isinstance(body, list) else body["total"],
                      "p50_ms": round(statistics.median(latencies) * 1000, 2),
                      "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 2)
                      })  # fmt: skip
    emit({"name": "rss", "start_mb": round(rss_start / 1024, 1),
          "after_requests_mb": round(rss_kb(pid) / 1024, 1)})  # fmt: skip


def lanner_command() -> list[str]:
    script = shutil.which("lanner", path=str(Path(sys.executable).parent)) or shutil.which("lanner")
    if script:
        return [script]
    return [sys.executable, "-c", "from lanner.cli.main import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(port: int, server: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        try:
            if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def serve_and_measure(data_dir: Path, database_url: str | None, requests: int) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANNER_", "KESTRA_"))}
    if database_url:
        env["LANNER_DATABASE_URL"] = database_url
    server = subprocess.Popen(
        [*lanner_command(), "server", "local", "--host", HOST, "--port", str(port),
         "--data-dir", str(data_dir)],
        env=env,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_healthy(port, server)
        measure(port, server.pid, requests)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def measure_existing(url: str, requests: int) -> None:
    async def migrate() -> int:
        store = open_store(url)
        await store.start()  # upgrades the schema to this version's head
        await store.close()
        engine = create_engine(normalize_url(url))
        with engine.connect() as conn:
            total = int(conn.execute(text("SELECT count(*) FROM executions")).scalar_one())
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        return total

    started = time.perf_counter()
    total = asyncio.run(migrate())
    emit({"name": "migrate", "executions": total,
          "seconds": round(time.perf_counter() - started, 1)})  # fmt: skip
    emit(sizes(url, total))
    with tempfile.TemporaryDirectory() as tmp:
        serve_and_measure(Path(tmp), url, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--database", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--reset", action="store_true", help="empty the PostgreSQL schema first")
    parser.add_argument("--chunk", type=int, default=2000, help="executions per transaction")
    parser.add_argument("--requests", type=int, default=50, help="requests per page measured")
    parser.add_argument(
        "--existing",
        action="store_true",
        help="measure the history already in --database (migrated first), seeding nothing",
    )
    args = parser.parse_args()
    if args.existing:
        if not args.database:
            parser.error("--existing needs --database")
        measure_existing(args.database, args.requests)
        return
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = args.database or f"sqlite:///{data_dir / SQLITE_FILE_NAME}"
        if args.database:
            if not args.reset:
                parser.error("--database needs --reset: the benchmark empties that database")
            reset_postgres(args.database)
        emit({"name": "config", "backend": normalize_url(url).get_backend_name(),
              "executions": args.executions, "page_size": PAGE_SIZE,
              "requests": args.requests})  # fmt: skip
        emit(asyncio.run(seed(url, args.executions, args.chunk)))
        if not args.database:
            engine = create_engine(url)
            with engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            engine.dispose()
        else:
            engine = create_engine(normalize_url(url))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
            engine.dispose()
        emit(sizes(url, args.executions))
        serve_and_measure(data_dir, args.database, args.requests)


if __name__ == "__main__":
    main()
