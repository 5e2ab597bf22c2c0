"""uvicorn as the API runs it: :class:`Server` hands the stop back to the caller.

Imported by the roles that serve the API (``server local``, ``server api``) only.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn


class Server(uvicorn.Server):
    """uvicorn, minus re-raising the stopping signal once it has shut down: that would kill
    the process before the caller's graceful stop (running tasks finish, the rest handed back).
    Its shutdown first sets ``stopping``, so open streams end instead of holding the grace."""

    def __init__(self, config: uvicorn.Config, *, stopping: asyncio.Event) -> None:
        super().__init__(config)
        self._stopping = stopping

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._stopping.set()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()
