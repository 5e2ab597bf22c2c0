"""``GET /health`` of the roles without the HTTP API (``executor``, ``worker``, ``scheduler``),
on an optional port (``LANNER_HEALTH_PORT`` / ``--health-port``; the ``api`` role serves its
own ``/health``).

The answer is JSON: ``status`` (``UP``, or ``DOWN`` with HTTP 503 when the store does not
answer within :data:`PROBE_TIMEOUT_S`), the ``role``, this process (``node``, ``host``,
``pid``), ``leader`` for an executor or a scheduler, ``store`` connectivity, the queue's
depth and the leases running (``jobs``: ``queued``, ``running``; one store read per request)
and, for a worker, its own load (``worker``: ``id``, ``running``, ``concurrency``,
``leaseSeconds``).

Hand-written on ``asyncio.start_server``: one route, one request per connection (``Connection:
close``); the API's stack (FastAPI, uvicorn) stays out of these roles, whose memory is the
point. Imports the store protocols and the standard library.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

from lanner.store import Store

log = logging.getLogger("lanner.health")

PROBE_TIMEOUT_S = 2.0
REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 8192

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HealthServer:
    """Serves ``GET /health`` for one role: ``describe`` adds the role's own fields."""

    def __init__(
        self,
        store: Store,
        *,
        role: str,
        node: str,
        host: str,
        port: int,
        describe: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self._store = store
        self._role = role
        self._node = node
        self._host = host
        self._port = port
        self._describe = describe
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when 0 was asked)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info("health on http://%s:%d/health", self._host, self.port)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def report(self) -> tuple[int, dict[str, Any]]:
        """The HTTP status and the body of ``GET /health``."""
        body: dict[str, Any] = {
            "status": "UP",
            "role": self._role,
            "node": self._node,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        if self._describe is not None:
            body.update(self._describe())
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                counts = await self._store.job_counts()
        except Exception as error:  # a timeout or the store's own error: the store is down
            body["status"] = "DOWN"
            body["store"] = {"status": "DOWN", "error": str(error) or type(error).__name__}
            return 503, body
        body["store"] = {"status": "UP"}
        body["jobs"] = {"queued": counts.get("QUEUED", 0), "running": counts.get("RUNNING", 0)}
        return 200, body

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        try:
            method, target, *_ = head[:MAX_REQUEST_BYTES].decode("latin-1").split(" ", 2)
        except ValueError:
            method, target = "", ""
        path = target.split("?", 1)[0]
        if path not in ("/health", "/health/"):
            status, body = 404, {"message": f"no route {path!r}: GET /health"}
        elif method not in ("GET", "HEAD"):
            status, body = 405, {"message": "GET /health"}
        else:
            status, body = await self.report()
        payload = json.dumps(body).encode()
        writer.write(
            f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
        )
        if method != "HEAD":
            writer.write(payload)
        try:
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
