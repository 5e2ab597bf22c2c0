"""The built-in MCP server against REST: a 2-task flow run with wait, on a real server process.

A ``lanner server local`` process on a temporary data directory (SQLite unless
``--database-url``); the load comes from this script's ``--client`` half, one request at a time.
Figures, one JSON object each (p50/p99 latency in ms over ``--runs`` calls, after a warm-up):

- ``mcp_vs_rest_2task_wait``: the same run three ways, from the same lean HTTP/1.1 keep-alive
  client: ``rest`` (``POST /api/v1/executions/bench/two?wait=true``), ``mcp`` (one JSON-RPC
  ``tools/call`` of ``run_flow`` with ``wait: true`` on ``/api/v1/mcp``, stateless JSON), and
  ``mcp_tool`` (the flow's own McpToolTrigger tool); the server's difference is what the
  ``mcp``/``mcp_tool`` figures add to ``rest``;
- ``mcp_sdk_2task_wait``: the same ``run_flow`` call through the ``mcp`` SDK's ``Client`` over
  streamable HTTP (what an agent pays, client included).

Run: ``python benchmarks/mcp.py [--database-url URL] [--runs 300]``.
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
RET = "io.kestra.plugin.core.debug.Return"
TWO_TASKS = (
    f"id: two\nnamespace: bench\ntasks:\n  - id: a\n    type: {RET}\n    format: a\n"
    f"  - id: b\n    type: {RET}\n    format: '{{{{ outputs.a.value }}}}'\n"
    "outputs:\n  - id: b\n    type: STRING\n    value: '{{ outputs.b.value }}'\n"
    "triggers:\n  - id: mcp\n    type: io.kestra.plugin.core.trigger.McpToolTrigger\n"
    "    toolName: bench_two\n"
)
MCP_HEADERS = "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-06-18\r\n"
WARMUP = 20


class Connection:
    """One keep-alive connection, requests one at a time (a lean client: not what is measured)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: str = ""
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
        message = (head + headers).encode() + b"\r\n" + body
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(HOST, self._port)
        assert self._reader is not None
        self._writer.write(message)
        status = int((await self._reader.readline()).split()[1])
        length, is_chunked = 0, False
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


async def rest_run(conn: Connection) -> str:
    status, body = await conn.request(
        "POST", "/api/v1/executions/bench/two?wait=true", b"", "Content-Type: text/plain\r\n"
    )
    if status != 200:
        raise RuntimeError(f"REST run: {status} {body[:200]!r}")
    return str(json.loads(body)["state"]["current"])


def mcp_call(name: str, arguments: dict[str, Any]) -> bytes:
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return json.dumps(message).encode()


async def mcp_run(conn: Connection, body: bytes) -> str:
    headers = MCP_HEADERS + "Content-Type: application/json\r\n"
    status, answer = await conn.request("POST", "/api/v1/mcp", body, headers)
    if status != 200:
        raise RuntimeError(f"MCP call: {status} {answer[:200]!r}")
    result = json.loads(answer)["result"]
    if result.get("isError"):
        raise RuntimeError(f"MCP call failed: {result['content']}")
    return str(result["structuredContent"]["state"])


def percentiles(latencies: list[float]) -> dict[str, float]:
    latencies = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
    }


async def timed(
    runs: int, calls: dict[str, Callable[[], Awaitable[str]]]
) -> dict[str, dict[str, float]]:
    """Each call ``runs`` times, interleaved (one of each per round): the same load for all."""
    for _ in range(WARMUP):
        for call in calls.values():
            await call()
    latencies: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            start = time.perf_counter()
            state = await call()
            latencies[name].append((time.perf_counter() - start) * 1000)
            if state != "SUCCESS":
                raise RuntimeError(f"a run ended {state}")
    return {name: percentiles(values) for name, values in latencies.items()}


async def sdk_figure(port: int, runs: int) -> dict[str, float]:
    from mcp import Client

    async with Client(f"http://{HOST}:{port}/api/v1/mcp") as client:

        async def call() -> str:
            result = await client.call_tool(
                "run_flow", {"namespace": "bench", "id": "two", "wait": True}
            )
            assert result.structured_content is not None
            return str(result.structured_content["state"])

        return (await timed(runs, {"sdk": call}))["sdk"]


async def client_main(port: int, runs: int) -> None:
    conn = Connection(port)
    status, body = await conn.request(
        "POST", "/api/v1/flows", TWO_TASKS.encode(), "Content-Type: application/x-yaml\r\n"
    )
    if status != 200:
        raise RuntimeError(f"deploy: {status} {body[:200]!r}")
    run_flow = mcp_call("run_flow", {"namespace": "bench", "id": "two", "wait": True})
    tool = mcp_call("bench_two", {})
    figures = await timed(
        runs,
        {
            "rest": lambda: rest_run(conn),
            "mcp": lambda: mcp_run(conn, run_flow),
            "mcp_tool": lambda: mcp_run(conn, tool),
        },
    )
    for name in ("mcp", "mcp_tool"):
        figures[name]["p50_over_rest_ms"] = round(
            figures[name]["p50_ms"] - figures["rest"]["p50_ms"], 2
        )
    print(json.dumps({"figure": "mcp_vs_rest_2task_wait", "runs": runs, **figures}), flush=True)
    sdk = await sdk_figure(port, runs)
    print(json.dumps({"figure": "mcp_sdk_2task_wait", "runs": runs, **sdk}), flush=True)


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


def run(database_url: str | None, runs: int, timeout_s: float) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LANNER_", "KESTRA_"))}
        if database_url:
            env["LANNER_DATABASE_URL"] = database_url
        server = subprocess.Popen(
            [*lanner_command(), "server", "local", "--host", HOST, "--port", str(port),
             "--data-dir", data_dir],
            env=env,
        )  # fmt: skip
        try:
            wait_healthy(port, server)
            subprocess.run(
                [sys.executable, __file__, "--client", "--port", str(port), "--runs", str(runs)],
                check=True,
                timeout=timeout_s,
            )
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def unshadow_the_sdk() -> None:
    """This script is named mcp.py: its directory must not hide the SDK's ``mcp`` package."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.modules.pop("mcp", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=600.0, help="client time limit (s)")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        unshadow_the_sdk()
        asyncio.run(client_main(args.port, args.runs))
    else:
        run(args.database_url, args.runs, args.timeout)


if __name__ == "__main__":
    main()
