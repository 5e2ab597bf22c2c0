"""Cross-process wake-ups: the change feed's topics over PostgreSQL ``LISTEN/NOTIFY``.

In multi-node mode every process (``api``, ``executor``, ``worker``) bridges its in-process
change feed to one channel: topics published locally are sent as ``NOTIFY`` (batched — all
topics pending when the sender runs, cut into payloads of at most
:data:`MAX_PAYLOAD_BYTES`), and notifications from other processes are published locally. A
payload is ``<node id>\\n<topic>\\n<topic>…``; a node ignores its own. Wake-ups are levels, not
messages: a lost or duplicated one costs at most a safety poll, so after a (re)connect the
``on_connect`` callback wakes the local loops to re-read the store.

Two dedicated autocommit connections per process (psycopg's async driver, never the store's
pool): one listens (``conn.notifies()`` holds it), one sends. Either reconnects after a loss;
:meth:`PostgresNotifier.send` never blocks the event loop. Also :func:`postgres_conninfo`,
which tells the roles that need PostgreSQL from those that do not.
Imports psycopg and SQLAlchemy's URL parsing; never the engine or the API.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Iterable, Sequence

import psycopg

from lanner.errors import ConfigError
from lanner.store.sqlalchemy.engines import (
    PG_CONNECT_TIMEOUT_S,
    application_name,
    first_line,
    normalize_url,
)

log = logging.getLogger("lanner.notifications")

CHANNEL = "lanner_feed"
MAX_PAYLOAD_BYTES = 7900
"""Below PostgreSQL's 8000-byte limit on a ``NOTIFY`` payload."""
RECONNECT_DELAY_S = 1.0
"""The longest wait before a reconnect (doubling from a tenth of it, jittered)."""
START_TIMEOUT_S = 10.0
CLOSE_FLUSH_TIMEOUT_S = 2.0


def postgres_conninfo(database_url: str, *, purpose: str = "multi-node mode") -> str:
    """The libpq URL of ``database_url``; :class:`ConfigError` unless it is PostgreSQL."""
    url = normalize_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            f"{purpose} needs PostgreSQL: set LANNER_DATABASE_URL=postgresql://user@host:5432/db "
            "(SQLite runs embedded only: `lanner server local`)"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def connect(conninfo: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    """A dedicated autocommit session with TCP keepalives (a dead server is noticed)."""
    return await psycopg.AsyncConnection.connect(
        conninfo,
        autocommit=True,
        connect_timeout=PG_CONNECT_TIMEOUT_S,
        application_name=application_name(),
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
    )


def reconnect_delay(failures: int) -> float:
    """Seconds before the next try after ``failures`` failed ones (0: at once): doubling up to
    :data:`RECONNECT_DELAY_S`, jittered so that the nodes do not reconnect in lockstep."""
    if failures <= 0:
        return 0.0
    bound = min(RECONNECT_DELAY_S, RECONNECT_DELAY_S / 10 * 2.0 ** min(failures - 1, 30))
    return bound / 2 + random.random() * bound / 2


def encode_payloads(node_id: str, topics: Iterable[str]) -> list[str]:
    """``topics`` as few payloads as fit :data:`MAX_PAYLOAD_BYTES`, each led by ``node_id``."""
    head = node_id.encode()
    payloads: list[str] = []
    batch: list[str] = []
    size = len(head)
    for topic in sorted(set(topics)):
        cost = len(topic.encode()) + 1
        if len(head) + cost > MAX_PAYLOAD_BYTES or "\n" in topic:
            log.warning("topic not forwarded (too long or multi-line): %.80r", topic)
            continue
        if size + cost > MAX_PAYLOAD_BYTES:
            payloads.append("\n".join([node_id, *batch]))
            batch, size = [], len(head)
        batch.append(topic)
        size += cost
    if batch:
        payloads.append("\n".join([node_id, *batch]))
    return payloads


def decode_payload(payload: str) -> tuple[str, list[str]]:
    """The node id and the topics of a payload from :func:`encode_payloads`."""
    node_id, *topics = payload.split("\n")
    return node_id, [topic for topic in topics if topic]


class PostgresNotifier:
    """Forwards local topics as ``NOTIFY`` and delivers other nodes' topics to ``deliver``.

    ``await start()`` (returns once listening, or after :data:`START_TIMEOUT_S` while it keeps
    trying), ``send(topics)`` from the event loop, ``await close()``.
    """

    def __init__(
        self,
        database_url: str,
        deliver: Callable[[Sequence[str]], None],
        *,
        on_connect: Callable[[], None] | None = None,
        node_id: str | None = None,
        channel: str = CHANNEL,
    ) -> None:
        self._conninfo = postgres_conninfo(database_url)
        self._deliver = deliver
        self._on_connect = on_connect
        self.node_id = node_id or uuid.uuid4().hex
        self._channel = channel
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # nothing pending nor being sent
        self._idle.set()
        self._listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.received = 0  # notifications from other nodes (for tests and logs)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen_loop(), name="lanner-notify-listen"),
            asyncio.create_task(self._send_loop(), name="lanner-notify-send"),
        ]
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await self._listening.wait()
        except TimeoutError:
            log.warning("not listening for notifications yet; retrying in the background")

    def send(self, topics: Sequence[str]) -> None:
        """Queue ``topics`` for the next ``NOTIFY`` (never blocks)."""
        if topics:
            self._pending.update(topics)
            self._idle.clear()
            self._wake.set()

    async def close(self) -> None:
        """Send what is pending (briefly), then stop both sessions."""
        if self._tasks:
            try:
                async with asyncio.timeout(CLOSE_FLUSH_TIMEOUT_S):
                    await self._idle.wait()
            except TimeoutError:
                log.warning("%d topics not forwarded at close", len(self._pending))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _listen_loop(self) -> None:
        failures = 0
        while True:
            try:
                async with await connect(self._conninfo) as conn:
                    await conn.execute(f"LISTEN {self._channel}")
                    self._listening.set()
                    if failures:
                        log.warning("notification listener reconnected")
                    failures = 0
                    if self._on_connect is not None:
                        self._on_connect()  # what was sent while not listening: re-read
                    async for notify in conn.notifies():
                        self._receive(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failures:
                    log.warning("notification listener lost its connection: %s", first_line(exc))
                failures += 1
            await asyncio.sleep(reconnect_delay(failures))

    def _receive(self, payload: str) -> None:
        node_id, topics = decode_payload(payload)
        if node_id == self.node_id or not topics:
            return
        self.received += 1
        try:
            self._deliver(topics)
        except Exception:
            log.exception("delivering notified topics failed")

    async def _send_loop(self) -> None:
        conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        failures = 0
        try:
            while True:
                await self._wake.wait()
                topics, self._pending = self._pending, set()
                try:
                    if conn is None or conn.closed:
                        conn = await connect(self._conninfo)
                    for payload in encode_payloads(self.node_id, topics):
                        await conn.execute("SELECT pg_notify(%s, %s)", (self._channel, payload))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if not failures:
                        log.warning("could not send notifications: %s", first_line(exc))
                    failures += 1
                    self._pending |= topics  # a wake-up is a level: resending is harmless
                    if conn is not None:
                        await conn.close()
                    conn = None
                    await asyncio.sleep(reconnect_delay(failures))
                    continue
                failures = 0
                if not self._pending:
                    self._wake.clear()
                    self._idle.set()
        finally:
            if conn is not None:
                await conn.close()
