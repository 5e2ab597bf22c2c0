"""Every figure of the engine-speed table in one command, as JSON: ``python -m benchmarks``.

Runs, each in its own processes (so one cannot warm another's caches):

1. ``benchmarks/engine.py --no-http``: the engine in process on SQLite (100 sequential tasks,
   concurrent 2-task executions, ForEach per item);
2. ``benchmarks/http_load.py`` on SQLite: a real ``lanner server local``, load from another process
   (``wait=true`` p50/p99, 100 sequential tasks, 32 clients with and without wait, server CPU
   per execution, ForEach, server RSS idle and after 10,000 executions);
3. the same on PostgreSQL (a fresh database on ``LANNER_TEST_POSTGRES_URL``, dropped after);
4. the cluster on PostgreSQL: 1 ``server api`` + 1 ``server executor`` + 2 ``server worker``
   processes, 32 clients without wait;
5. ``benchmarks/logs.py``: lines per second through the logger and through ``Log`` tasks.

Each figure is printed as it comes (one JSON object a line, names prefixed ``sqlite_``,
``postgresql_``, ``cluster_``); the last line is ``{"name": "summary", ...}``: the table's rows
against their goals. ``--quick`` runs smaller sizes (a smoke run, not figures to quote).
Without ``LANNER_TEST_POSTGRES_URL`` (or ``--postgres-url``) the PostgreSQL rows are skipped
and the summary says so.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent


def run_script(args: list[str], figures: dict[str, dict[str, Any]]) -> None:
    """Run ``python benchmarks/<script> ...``; echo and keep its JSON lines."""
    # -P: the scripts' folder stays off sys.path (as when run by hand from the root).
    command = [sys.executable, "-P", str(HERE / args[0]), *args[1:]]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                figure = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(figure, dict) and "name" in figure:
                figures[figure["name"]] = figure
                print(json.dumps(figure), flush=True)
    if child.returncode != 0:
        print(json.dumps({"name": "error", "script": args[0], "returncode": child.returncode}))


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


def get(figures: dict[str, dict[str, Any]], name: str, field: str) -> Any:
    return figures.get(name, {}).get(field)


def summary(figures: dict[str, dict[str, Any]], has_postgres: bool) -> dict[str, Any]:
    f = figures

    def row(figure: str, value: Any, goal: str) -> dict[str, Any]:
        return {"figure": figure, "value": value, "goal": goal}

    foreach = sorted(
        (int(name.rsplit("_", 1)[1]), fig["ms_per_item"])
        for name, fig in f.items()
        if name.startswith("sqlite_http_foreach_")
    )
    rows = [
        row("2-task execution, wait=true, p50 / p99 ms",
            [get(f, "sqlite_http_wait_2task", "p50_ms"), get(f, "sqlite_http_wait_2task", "p99_ms")],
            "<= 5 / <= 20"),
        row("per task, 100 sequential Return tasks, ms (HTTP median; in process)",
            [get(f, "sqlite_http_sequential_100", "ms_per_task_median"),
             get(f, "sequential_100", "ms_per_task")], "<= 1"),
        row("2-task executions/s, 32 clients, to the last end",
            get(f, "sqlite_http_throughput_2task", "executions_per_s"), ">= 500"),
        row("server CPU per 2-task execution, ms",
            get(f, "sqlite_http_throughput_2task", "server_cpu_ms_per_execution"), "<= 2"),
        row("log lines/s through Log tasks / through the logger",
            [next((v["lines_per_s"] for k, v in f.items() if k.startswith("log_task_")), None),
             next((v["lines_per_s"] for k, v in f.items() if k.startswith("logger_")), None)],
            ">= 50,000 / >= 200,000"),
        row("ForEach per item, ms, by item count (HTTP)", foreach, "<= 1, flat"),
        row("PostgreSQL, 1 executor + 2 worker processes, 2-task executions/s",
            get(f, "cluster_http_throughput_2task", "executions_per_s")
            if has_postgres else "skipped: no PostgreSQL URL", ">= 300"),
        row("PostgreSQL server local, 2-task executions/s",
            get(f, "postgresql_http_throughput_2task", "executions_per_s")
            if has_postgres else "skipped: no PostgreSQL URL", ""),
        row("server RSS idle / after N executions, MB",
            [get(f, "sqlite_server_rss", "idle_mb"), get(f, "sqlite_server_rss", "after_mb"),
             get(f, "sqlite_server_rss", "after_executions")], "<= 120 / <= 200 (N = 10,000)"),
    ]  # fmt: skip
    return {"name": "summary", "date": datetime.now(UTC).date().isoformat(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url", default=os.environ.get("LANNER_TEST_POSTGRES_URL"))
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args()
    executions, items, lines = (300, 1000, 10_000) if args.quick else (3000, 10_000, 100_000)
    figures: dict[str, dict[str, Any]] = {}

    run_script(
        ["engine.py", "--no-http", "--executions", str(executions), "--max-items", str(items)],
        figures,
    )
    http = ["http_load.py", "--executions", str(executions), "--max-items", str(items)]
    run_script([*http, "--label", "sqlite"], figures)
    if args.postgres_url:
        with postgres_database(args.postgres_url) as url:
            run_script(
                [*http, "--database-url", url, "--label", "postgresql",
                 "--figures", "wait,sequential,throughput_wait,throughput"],
                figures,
            )  # fmt: skip
        with postgres_database(args.postgres_url) as url:
            run_script(
                [*http, "--database-url", url, "--cluster", "--label", "cluster",
                 "--figures", "wait,throughput"],
                figures,
            )  # fmt: skip
    run_script(["logs.py", "--lines", str(lines)], figures)
    print(json.dumps(summary(figures, bool(args.postgres_url))), flush=True)


if __name__ == "__main__":
    main()
