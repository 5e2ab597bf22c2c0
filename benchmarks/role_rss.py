"""Idle resident memory of every server role, as JSON lines.

Each role starts on its own, with nothing to do: ``server local`` on a fresh SQLite data
directory, then ``server api``, ``executor``, ``worker`` and ``scheduler`` on one fresh
PostgreSQL database (``lanner_bench_<hex>`` on ``LANNER_TEST_POSTGRES_URL`` or
``--postgres-url``, dropped after; the API runs first, it migrates the schema). Once a role
answers ``GET /health`` and has idled ``--settle`` seconds, its ``VmRSS`` is read from
``/proc/<pid>/status``. One line per role, ``{"name": "idle_rss_<role>", "rss_mb": ...}``,
then ``{"name": "summary", "idle_rss_mb": {role: mb}}``.

Run: ``python benchmarks/role_rss.py [--settle 3] [--skip-postgres]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"lanner_{name}", Path(__file__).with_name(name))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


HTTP = _load("http_load.py")
CLUSTER = _load("cluster.py")
ROLES = ("api", "executor", "worker", "scheduler")


def idle_rss(role: str, env: dict[str, str], data_dir: str, settle_s: float) -> float:
    """Start ``role``, wait until it is healthy and has idled ``settle_s``: its VmRSS in MB."""
    port = HTTP.free_port()
    if role in ("local", "api"):
        args = [role, "--host", HTTP.HOST, "--port", str(port)]
    else:
        args = [role, "--health-port", str(port)]
    log_path = Path(data_dir) / f"{role}.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*HTTP.lanner_command(), "server", *args, "--data-dir", data_dir],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            HTTP.wait_healthy(port, server)
            time.sleep(settle_s)
            rss: float = HTTP.rss_mb(server.pid)
            return rss
        finally:
            HTTP.stop_all([server])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds before reading")
    parser.add_argument("--postgres-url", default=os.environ.get("LANNER_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-postgres", action="store_true", help="server local only")
    options = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANNER_", "KESTRA_"))}
    figures: dict[str, float] = {}

    def emit(role: str, rss: float) -> None:
        figures[role] = rss
        print(json.dumps({"name": f"idle_rss_{role}", "rss_mb": rss}), flush=True)

    with tempfile.TemporaryDirectory() as data_dir:
        emit("local", idle_rss("local", env, data_dir, options.settle))
    if options.postgres_url and not options.skip_postgres:
        with CLUSTER.postgres_database(options.postgres_url) as database_url:
            role_env = {**env, "LANNER_DATABASE_URL": database_url}
            with tempfile.TemporaryDirectory() as data_dir:
                for role in ROLES:
                    emit(role, idle_rss(role, role_env, data_dir, options.settle))
    print(json.dumps({"name": "summary", "idle_rss_mb": figures}), flush=True)


if __name__ == "__main__":
    main()
