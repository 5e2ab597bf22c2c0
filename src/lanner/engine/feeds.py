"""Change notifications: who is waiting for what to change, woken without polling.

A topic is a string such as ``execution:<id>`` or ``logs:<id>``. A subscription is a level, not
a queue: it only says "something changed since you last looked", so a slow reader re-reads the
latest state instead of piling up a backlog, and memory per subscriber stays constant. The
in-process feed serves embedded mode; in multi-node mode :meth:`ChangeFeed.forward_to` hands
every local publish to a bridge (``lanner.store.sqlalchemy.notifications``, PostgreSQL ``LISTEN/NOTIFY``)
that sends it to the other processes and publishes theirs here with
:meth:`ChangeFeed.publish_local`. Without a bridge (embedded mode) forwarding is a no-op.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence


def execution_topic(execution_id: str) -> str:
    return f"execution:{execution_id}"


def logs_topic(execution_id: str) -> str:
    return f"logs:{execution_id}"


WORK_TOPIC = "engine:work"
"""Published when executor events or worker jobs were added (wakes the engine loops)."""


class Subscription:
    """A wake-up flag for one topic; use as a context manager to unsubscribe."""

    __slots__ = ("_event", "_feed", "topic")

    def __init__(self, feed: ChangeFeed, topic: str) -> None:
        self._feed = feed
        self.topic = topic
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout_s: float | None = None) -> bool:
        """True when a change arrived (and clears the flag), False on timeout."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # races with the event, and a follower would then never stop.
        try:
            async with asyncio.timeout(timeout_s):
                await self._event.wait()
        except TimeoutError:
            return False
        self._event.clear()
        return True

    def close(self) -> None:
        self._feed._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChangeFeed:
    """In-process publish/subscribe of change notifications (call from the event loop)."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._forward: Callable[[Sequence[str]], None] | None = None

    def forward_to(self, forward: Callable[[Sequence[str]], None] | None) -> None:
        """Also hand every :meth:`publish` to ``forward`` (other processes); None: stop."""
        self._forward = forward

    def subscribe(self, topic: str) -> Subscription:
        subscription = Subscription(self, topic)
        self._subscribers[topic].add(subscription)
        return subscription

    def publish(self, *topics: str) -> None:
        """Wake this process's subscribers of ``topics`` and forward them (multi-node)."""
        self.publish_local(*topics)
        if self._forward is not None and topics:
            self._forward(topics)

    def publish_local(self, *topics: str) -> None:
        """Wake this process's subscribers only (topics that came from another process)."""
        for topic in topics:
            for subscription in self._subscribers.get(topic, ()):
                subscription.notify()

    def subscriber_count(self, topic: str | None = None) -> int:
        if topic is not None:
            return len(self._subscribers.get(topic, ()))
        return sum(len(subs) for subs in self._subscribers.values())

    def _remove(self, subscription: Subscription) -> None:
        subs = self._subscribers.get(subscription.topic)
        if subs is None:
            return
        subs.discard(subscription)
        if not subs:
            del self._subscribers[subscription.topic]
