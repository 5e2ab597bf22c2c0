"""Engine figures end to end over HTTP: a real ``lanner server local`` process, load from another.

The server runs on a temporary data directory (embedded SQLite unless ``--database-url``) on
127.0.0.1; the load comes from a separate process (this script's ``--client`` half) speaking
HTTP/1.1 keep-alive over raw asyncio streams (a lean client, so the client is not what is
measured). Figures, one JSON object each:

- ``http_wait_2task``: one client, a 2-task flow triggered with ``wait=true``: p50/p99 latency;
- ``http_sequential_100``: 100 sequential Return tasks in one execution (``wait=true``):
  time per task;
- ``http_throughput_2task_wait``: 32 clients, each triggering 2-task executions with
  ``wait=true`` back to back: executions per second;
- ``http_throughput_2task``: 32 clients submitting 2-task executions (no wait), until every one
  has ended: executions per second, and the server's CPU time (user + system, from
  ``/proc/<pid>/stat``) per execution;
- ``http_foreach_<n>``: a ForEach over n values (``wait=true``): time per item.

- ``server_rss``: the server's resident memory idle (flows deployed) and once ``rss_after``
  (10,000) executions have ended in all.

``--figures`` picks some of them; ``--cluster`` runs them against 1 ``server api`` + 1
``server executor`` + 2 ``server worker`` processes on ``--database-url`` (PostgreSQL).
Run: ``python benchmarks/http.py [--database-url URL] [--executions 3000] [--cluster]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
CLIENTS = 32
BOUNDARY = "lannerbenchboundary"
RET = "io.kestra.plugin.core.debug.Return"
TWO_TASKS = (
    f"id: two\nnamespace: bench\ntasks:\n  - id: a\n    type: {RET}\n    format: a\n"
    f"  - id: b\n    type: {RET}\n    format: '{{{{ outputs.a.value }}}}'\n"
)


def sequential_flow(count: int) -> str:
    tasks = "".join(f"  - id: t{i}\n    type: {RET}\n    format: '{i}'\n" for i in range(count))
    return f"id: seq{count}\nnamespace: bench\ntasks:\n{tasks}"


def foreach_flow(count: int) -> str:
    return (
        f"id: each{count}\nnamespace: bench\ntasks:\n"
        f"  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n"
        f"    values: '{{{{ range(0, {count - 1}) }}}}'\n"
        f"    tasks:\n      - id: item\n        type: {RET}\n        format: '{{{{ taskrun.value }}}}'\n"
    )


# --- a lean HTTP/1.1 keep-alive client ---------------------------------------------------------


class Connection:
    """One keep-alive connection; requests one at a time."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        message = head.encode() + b"\r\n" + body
        for _ in range(2):  # the server closes keep-alive connections idle for a while
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(HOST, self._port)
            assert self._reader is not None
            self._writer.write(message)
            if status_line := await self._reader.readline():
                break
            self.close()
        status = int(status_line.split()[1])
        length = 0
        is_chunked = False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                is_chunked = True
        if not is_chunked:
            return status, await self._reader.readexactly(length)
        chunks = []
        while size := int((await self._reader.readline()).strip(), 16):
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readline()
        await self._reader.readline()
        return status, b"".join(chunks)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def multipart(fields: dict[str, str]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


FORM = f"multipart/form-data; boundary={BOUNDARY}"


async def trigger(conn: Connection, flow_id: str, *, wait: bool) -> dict[str, Any]:
    path = f"/api/v1/executions/bench/{flow_id}" + ("?wait=true" if wait else "")
    status, body = await conn.request("POST", path, multipart({"note": "bench"}), FORM)
    if status != 200:
        raise RuntimeError(f"POST {path}: {status} {body[:200]!r}")
    result: dict[str, Any] = json.loads(body)
    return result


async def deploy(conn: Connection, source: str) -> None:
    status, body = await conn.request(
        "POST", "/api/v1/flows", source.encode(), "application/x-yaml"
    )
    if status != 200:
        raise RuntimeError(f"deploy: {status} {body[:300]!r}")


async def count_ended(conn: Connection, flow_id: str) -> int:
    path = f"/api/v1/executions/search?namespace=bench&flowId={flow_id}&size=1"
    states = "".join(f"&state={state}" for state in ("SUCCESS", "FAILED", "KILLED", "WARNING"))
    _, body = await conn.request("GET", path + states)
    return int(json.loads(body)["total"])


# --- the client process ------------------------------------------------------------------------


FIGURES = ("wait", "sequential", "throughput_wait", "throughput", "foreach", "rss")


async def client_main(
    port: int,
    pid: int,
    executions: int,
    max_items: int,
    figures: tuple[str, ...] = FIGURES,
    label: str = "",
    rss_after: int = 10_000,
) -> None:
    prefix = f"{label}_" if label else ""

    def emit(result: dict[str, Any]) -> None:
        result["name"] = prefix + result["name"]
        print(json.dumps(result), flush=True)

    conn = Connection(port)
    sizes = sorted({100, max_items})
    for source in (TWO_TASKS, sequential_flow(100), *(foreach_flow(n) for n in sizes)):
        await deploy(conn, source)
    idle_rss = rss_mb(pid)
    for _ in range(20):  # warm up (imports, caches, connections)
        await trigger(conn, "two", wait=True)
    if "wait" in figures:
        await wait_figure(conn, emit)
    if "sequential" in figures:
        await sequential_figure(conn, emit)
    if "throughput_wait" in figures or "throughput" in figures:
        await throughput_figures(conn, port, pid, executions, figures, emit)
    if "foreach" in figures:
        await foreach_figures(conn, pid, sizes, emit)
    if "rss" in figures:
        # Top up to ``rss_after`` executions in all, then read the server's memory again.
        conns = [Connection(port) for _ in range(CLIENTS)]
        remaining = [rss_after - await count_ended(conn, "two")]

        async def submitting_client(c: Connection) -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                await trigger(c, "two", wait=False)

        await asyncio.gather(*(submitting_client(c) for c in conns))
        deadline = time.monotonic() + 300
        while await count_ended(conn, "two") < rss_after:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {rss_after} executions ended")
            await asyncio.sleep(0.2)
        for c in conns:
            c.close()
        emit({"name": "server_rss", "idle_mb": idle_rss,
              "after_executions": await count_ended(conn, "two"), "after_mb": rss_mb(pid)})  # fmt: skip
    conn.close()


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


Emit = Any


async def wait_figure(conn: Connection, emit: Emit) -> None:
    latencies = []
    for _ in range(300):
        start = time.perf_counter()
        done = await trigger(conn, "two", wait=True)
        latencies.append(time.perf_counter() - start)
        assert done["state"]["current"] == "SUCCESS", done["state"]
    latencies.sort()
    emit({"name": "http_wait_2task", "requests": len(latencies),
          "p50_ms": round(statistics.median(latencies) * 1000, 3),
          "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
          "max_ms": round(latencies[-1] * 1000, 3)})  # fmt: skip


async def sequential_figure(conn: Connection, emit: Emit) -> None:
    per_task = []
    for _ in range(5):
        start = time.perf_counter()
        done = await trigger(conn, "seq100", wait=True)
        per_task.append((time.perf_counter() - start) * 1000 / 100)
        assert done["state"]["current"] == "SUCCESS", done["state"]
    emit({"name": "http_sequential_100", "runs": len(per_task),
          "ms_per_task_median": round(statistics.median(per_task), 3),
          "ms_per_task_best": round(min(per_task), 3)})  # fmt: skip


async def throughput_figures(
    conn: Connection, port: int, pid: int, executions: int, figures: tuple[str, ...], emit: Emit
) -> None:
    # 32 clients, wait=true, closed loop.
    conns = [Connection(port) for _ in range(CLIENTS)]
    count = executions // 2 if "throughput_wait" in figures else 0
    remaining = [count]

    async def waiting_client(c: Connection) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            done = await trigger(c, "two", wait=True)
            assert done["state"]["current"] == "SUCCESS", done["state"]

    if count:
        cpu_before = cpu_seconds(pid)
        start = time.perf_counter()
        await asyncio.gather(*(waiting_client(c) for c in conns))
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(pid) - cpu_before
        emit({"name": "http_throughput_2task_wait", "clients": CLIENTS, "executions": count,
              "executions_per_s": round(count / elapsed, 1),
              "server_cpu_ms_per_execution": round(cpu * 1000 / count, 3)})  # fmt: skip
    if "throughput" not in figures:
        for c in conns:
            c.close()
        return

    # 32 clients, fire and forget; then wait until every execution has ended.
    already = await count_ended(conn, "two")
    remaining[0] = executions

    async def submitting_client(c: Connection) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await trigger(c, "two", wait=False)

    cpu_before = cpu_seconds(pid)
    start = time.perf_counter()
    await asyncio.gather(*(submitting_client(c) for c in conns))
    submitted = time.perf_counter() - start
    deadline = time.monotonic() + 120
    while (ended := await count_ended(conn, "two") - already) < executions:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {ended} of {executions} executions ended")
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pid) - cpu_before
    emit({"name": "http_throughput_2task", "clients": CLIENTS, "executions": executions,
          "submitted_per_s": round(executions / submitted, 1),
          "executions_per_s": round(executions / elapsed, 1),
          "server_cpu_ms_per_execution": round(cpu * 1000 / executions, 3)})  # fmt: skip
    for c in conns:
        c.close()


async def foreach_figures(conn: Connection, pid: int, sizes: list[int], emit: Emit) -> None:
    for count in sizes:
        start = time.perf_counter()
        cpu_before = cpu_seconds(pid)
        done = await trigger(conn, f"each{count}", wait=True)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(pid) - cpu_before
        emit({"name": f"http_foreach_{count}", "state": done["state"]["current"],
              "total_s": round(elapsed, 3), "ms_per_item": round(elapsed * 1000 / count, 3),
              "server_cpu_ms_per_item": round(cpu * 1000 / count, 3)})  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the orchestrating process ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def lanner_command() -> list[str]:
    script = shutil.which("lanner", path=str(Path(sys.executable).parent)) or shutil.which("lanner")
    if script:
        return [script]
    return [sys.executable, "-c", "from lanner.cli.main import main; main()"]


def wait_healthy(port: int, server: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.sendall(f"GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


def run(
    database_url: str | None,
    executions: int,
    max_items: int,
    timeout_s: float,
    *,
    figures: tuple[str, ...] = FIGURES,
    cluster: bool = False,
    label: str = "",
) -> None:
    """Start ``lanner server local`` (or, with ``cluster``, one ``server api``, one
    ``server executor`` and two ``server worker`` processes on ``database_url``) and run the
    client against it; the CPU and memory figures are those of the API process (local: all)."""
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LANNER_", "KESTRA_"))
        }
        if database_url:
            env["LANNER_DATABASE_URL"] = database_url
        common = ["--data-dir", data_dir]
        api_role = ["api"] if cluster else ["local"]
        servers = [
            subprocess.Popen(
                [*lanner_command(), "server", *api_role, "--host", HOST, "--port", str(port),
                 *common],
                env=env,
            )
        ]  # fmt: skip
        try:
            wait_healthy(port, servers[0])
            if cluster:  # the API migrated the schema: the roles start on it
                for role in (["executor"], ["worker"], ["worker"]):
                    servers.append(
                        subprocess.Popen([*lanner_command(), "server", *role, *common], env=env)
                    )
                time.sleep(3.0)  # leadership taken, workers listening
            subprocess.run(
                [sys.executable, __file__, "--client", "--port", str(port),
                 "--pid", str(servers[0].pid), "--executions", str(executions),
                 "--max-items", str(max_items), "--figures", ",".join(figures),
                 "--label", label],
                check=True,
                timeout=timeout_s,
            )  # fmt: skip
        finally:
            stop_all(servers)


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, then wait for each (killed after 30 s)."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--executions", type=int, default=3000)
    parser.add_argument("--max-items", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=400.0, help="client time limit (s)")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--figures", default=",".join(FIGURES), help=f"comma-separated, of {', '.join(FIGURES)}"
    )
    parser.add_argument("--label", default="", help="prefix of every figure's name")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="1 api + 1 executor + 2 worker processes (needs --database-url, PostgreSQL)",
    )
    args = parser.parse_args()
    figures = tuple(name for name in args.figures.split(",") if name)
    if args.client:
        asyncio.run(
            client_main(args.port, args.pid, args.executions, args.max_items, figures, args.label)
        )
    else:
        run(
            args.database_url, args.executions, args.max_items, args.timeout,
            figures=figures, cluster=args.cluster, label=args.label,
        )  # fmt: skip


if __name__ == "__main__":
    main()
