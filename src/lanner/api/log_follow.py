"""Following an execution's logs live (SSE) and the followers' counters.

``GET /logs/{executionId}/follow`` sends the stored lines first, then each new one as it is
committed, every frame ``id: progress`` / ``data: <LogEntry>``, and never an end event (the
client closes, as with Kestra). Lines are read by the store's per-execution sequence
(``after_seq``), so lines committed in any order are never skipped nor repeated; the change
feed (``logs:<id>``, published after each committed batch) wakes the reader, with a slow poll as
the safety net, and pages of ``FOLLOW_PAGE_LINES`` keep a long backlog out of memory.

Resuming (a Lanner extension, off unless asked): a request with a numeric ``Last-Event-ID``
header (the SSE reconnection header; ``0`` for a first connection) gets only the lines after
that sequence number, each frame numbered ``id: <seq>`` instead of ``id: progress``, so a client
that lost its connection reconnects with the last id it saw and neither misses nor repeats a
line. Without the header (or with a non-numeric one, such as ``progress``) the stream is
Kestra's.

Each client has a bounded buffer (``FOLLOW_BUFFER_FRAMES``) between the reader and the socket;
a client that leaves it full for ``SLOW_CLIENT_TIMEOUT_S`` is dropped (its connection closed)
rather than the server's memory growing. When the server stops, the stream ends (within
``FOLLOW_SAFETY_POLL_S``). A disconnect ends the reader and releases the
subscription at once. ``GET /health/streams`` (authenticated) reports the live followers, the
feed's subscriptions and the event loop's task count, so leaks are observable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lanner.api import models
from lanner.api.context import ServicesDep, TenantDep
from lanner.api.ids import ExecutionIdPath
from lanner.api.logs import LineFilters, log_json
from lanner.api.models import ok
from lanner.api.wire import EventStreamResponse, JsonResponse, dumps
from lanner.domain.logs import LogEntry
from lanner.engine.feeds import ChangeFeed, logs_topic
from lanner.store import Store

router = APIRouter(tags=["Logs"], default_response_class=JsonResponse)
health_router = APIRouter(tags=["Health"], default_response_class=JsonResponse)

FOLLOW_PAGE_LINES = 1_000
FOLLOW_BUFFER_FRAMES = 2_000
SLOW_CLIENT_TIMEOUT_S = 10.0
FOLLOW_SAFETY_POLL_S = 1.0
FOLLOW_KEEPALIVE_S = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(slots=True)
class FollowStats:
    """Counters of this application's log followers."""

    active: int = 0
    started: int = 0
    dropped_slow: int = 0


def follow_stats(request: Request) -> FollowStats:
    stats: FollowStats | None = getattr(request.app.state, "log_follow_stats", None)
    if stats is None:
        stats = request.app.state.log_follow_stats = FollowStats()
    return stats


class _SlowClientError(Exception):
    """The client left its buffer full too long."""


@dataclass(slots=True)
class LogFollow:
    """The reader of one follower: stored lines, then live ones, into a bounded queue."""

    store: Store
    feed: ChangeFeed
    tenant: str
    execution_id: str
    filters: LineFilters
    after_seq: int | None = None
    """Resume after this sequence number and number the frames with each line's."""

    def frame(self, entry: LogEntry) -> bytes:
        numbered = self.after_seq is not None and entry.seq is not None
        event_id = str(entry.seq).encode() if numbered else b"progress"
        return b"id: " + event_id + b"\ndata: " + dumps(log_json(entry)) + b"\n\n"

    stopping: asyncio.Event | None = None  # the server is shutting down: end the stream

    async def produce(self, queue: asyncio.Queue[bytes]) -> None:
        position: int | None = self.after_seq or None
        # Subscribed before the first read: a batch committed meanwhile still wakes us.
        with self.feed.subscribe(logs_topic(self.execution_id)) as changes:
            idle_s = 0.0
            while self.stopping is None or not self.stopping.is_set():
                entries = await self.filters.read(
                    self.store,
                    self.tenant,
                    self.execution_id,
                    after_seq=position,
                    limit=FOLLOW_PAGE_LINES,
                )
                for entry in entries:
                    position = entry.seq if entry.seq is not None else position
                    await _put(queue, self.frame(entry))
                if len(entries) >= FOLLOW_PAGE_LINES:
                    continue  # more stored lines: no need to wait for a wake-up
                if entries:
                    idle_s = 0.0
                if await changes.wait(FOLLOW_SAFETY_POLL_S):
                    continue
                idle_s += FOLLOW_SAFETY_POLL_S
                if idle_s >= FOLLOW_KEEPALIVE_S:
                    idle_s = 0.0
                    await _put(queue, b": keep-alive\n\n")


async def _put(queue: asyncio.Queue[bytes], frame: bytes) -> None:
    if not queue.full():
        queue.put_nowait(frame)
        return
    try:
        async with asyncio.timeout(SLOW_CLIENT_TIMEOUT_S):
            await queue.put(frame)
    except TimeoutError:
        raise _SlowClientError from None


class FollowResponse(Response):
    """An SSE response fed by a :class:`LogFollow` through a bounded per-client buffer."""

    def __init__(self, follow: LogFollow, stats: FollowStats) -> None:
        super().__init__(media_type="text/event-stream", headers=SSE_HEADERS)
        # A stream has no length: without one, HTTP/1.1 sends it chunked.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self._follow = follow
        self._stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        queue: asyncio.Queue[bytes] = asyncio.Queue(FOLLOW_BUFFER_FRAMES)
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        self._stats.active += 1
        self._stats.started += 1
        producer = asyncio.create_task(self._follow.produce(queue), name="lanner-log-follow")
        sender = asyncio.create_task(_send_frames(queue, send), name="lanner-log-send")
        watcher = asyncio.create_task(_wait_disconnect(receive), name="lanner-log-watch")
        tasks = (producer, sender, watcher)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._stats.active -= 1
        if producer.done() and not producer.cancelled():
            error = producer.exception()
            if error is None:  # the server is stopping: what is buffered, then the end
                with contextlib.suppress(TimeoutError, OSError):
                    async with asyncio.timeout(SLOW_CLIENT_TIMEOUT_S / 10):
                        rest = b"".join(queue.get_nowait() for _ in range(queue.qsize()))
                        await send({"type": "http.response.body", "body": rest, "more_body": False})
                return
            if not isinstance(error, _SlowClientError):
                raise error or RuntimeError("log follower ended")
            self._stats.dropped_slow += 1
            # End the response if the socket takes it; otherwise the server closes it.
            with contextlib.suppress(TimeoutError, OSError):
                async with asyncio.timeout(SLOW_CLIENT_TIMEOUT_S / 10):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _send_frames(queue: asyncio.Queue[bytes], send: Send) -> None:
    while True:
        frame = await queue.get()
        # Coalesce what is already buffered into one write: fewer syscalls under load.
        frames = [frame]
        while not queue.empty() and len(frames) < 256:
            frames.append(queue.get_nowait())
        await send({"type": "http.response.body", "body": b"".join(frames), "more_body": True})


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


@router.get(
    "/logs/{executionId}/follow",
    summary="Follow an execution's logs (SSE)",
    response_class=EventStreamResponse,
)
async def follow_logs(
    executionId: ExecutionIdPath, request: Request, services: ServicesDep, tenant: TenantDep
) -> Response:
    filters = LineFilters.of(request)  # validates the parameters before the stream starts
    after_seq = resume_point(request.headers.get("last-event-id"))
    follow = LogFollow(
        services.store,
        services.feed,
        tenant,
        executionId,
        filters,
        after_seq,
        stopping=services.stopping,
    )
    return FollowResponse(follow, follow_stats(request))


def resume_point(last_event_id: str | None) -> int | None:
    """The sequence number a ``Last-Event-ID`` header resumes after; None: Kestra's stream."""
    if last_event_id is None:
        return None
    text = last_event_id.strip()
    return int(text) if text.isascii() and text.isdigit() else None


@health_router.get(
    "/health/streams",
    summary="Live log followers and feed subscriptions",
    responses=ok(models.StreamStats),
)
async def streams(request: Request, services: ServicesDep) -> Any:
    stats = follow_stats(request)
    return {
        "logFollowers": stats.active,
        "logFollowersStarted": stats.started,
        "slowClientsDropped": stats.dropped_slow,
        "feedSubscriptions": services.feed.subscriber_count(),
        "tasks": len(asyncio.all_tasks()),
        "rssBytes": _rss_bytes(),
        "eventLoop": type(asyncio.get_running_loop()).__module__.split(".")[0],
    }


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
