"""uvicorn's httptools protocol with a bound on a request's head (request line and headers).

uvicorn bounds the head only for h11 (``h11_max_incomplete_event_size``); with httptools (the
faster parser, Lanner's default) a client may send header bytes without end and the parser
keeps them all. :func:`bounded_httptools` counts the bytes received while a request's head is
incomplete and, past ``max-header-bytes`` plus one socket read (a pipelined chunk may hold the
tail of the previous request), answers 431 with Kestra's error body and closes the connection.
Heads under that bound reach the application, whose ``RequestLimitMiddleware`` answers 431
exactly at ``max-header-bytes``: this is the memory cap, that is the precise answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lanner.api.wire import dumps

READ_SLACK_BYTES = 256 * 1024
"""The most asyncio hands ``data_received`` at once (its read size)."""


def head_refusal(max_header_bytes: int) -> bytes:
    body = dumps(
        {
            "message": "Request Header Fields Too Large: the headers are over "
            f"{max_header_bytes} bytes (max-header-bytes)",
            "_links": {"self": {"href": "/", "templated": False}},
        }
    )
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Refuses a head longer than ``max_head_bytes`` (set by :func:`bounded_httptools`)."""

    max_head_bytes = 64 * 1024 + READ_SLACK_BYTES
    max_header_bytes = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes:
            self.transport.write(head_refusal(self.max_header_bytes))
            self.transport.close()


def bounded_httptools(max_header_bytes: int) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with this header bound."""
    return type(
        "LannerHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {
            "max_header_bytes": max_header_bytes,
            "max_head_bytes": max_header_bytes + READ_SLACK_BYTES,
        },
    )
