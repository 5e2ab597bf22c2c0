"""The httptools protocol's head bound: a client sending header bytes without end is answered
431 and cut off once past ``max-header-bytes`` plus one read, on uvicorn's real protocol."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from lanner.api.http_protocol import READ_SLACK_BYTES, bounded_httptools

LIMIT = 8 * 1024


class Transport(asyncio.Transport):
    """What the protocol wrote, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: Any) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def connect() -> tuple[asyncio.Protocol, Transport]:
    config = uvicorn.Config(app, lifespan="off", log_level="error")
    config.load()
    protocol = bounded_httptools(LIMIT)(config=config, server_state=ServerState(), app_state={})  # type: ignore[call-arg]
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def test_an_endless_head_is_refused_with_431_and_closed() -> None:
    protocol, transport = connect()
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent = 0
    while not transport.closed:
        protocol.data_received(b"a" * 16384)
        sent += 16384
        assert sent < LIMIT + READ_SLACK_BYTES + 32768, "the head was never cut off"
    head, _, body = transport.written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    assert b"connection: close" in head
    assert "max-header-bytes" in json.loads(body)["message"]


async def test_a_head_under_the_bound_and_its_body_are_served() -> None:
    protocol, transport = connect()
    body = b"x" * (LIMIT + READ_SLACK_BYTES + 1)  # the body never counts toward the head
    protocol.data_received(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    for start in range(0, len(body), 65536):
        protocol.data_received(body[start : start + 65536])
    for _ in range(20):
        if transport.written:
            break
        await asyncio.sleep(0.01)
    assert transport.written.startswith(b"HTTP/1.1 200 OK")
    assert not transport.closed
