"""Change notifications: who is waiting for what to change, woken without polling.

A topic is a string such as ``execution:<id>`` or ``logs:<id>``. A subscription is a level, not
a queue: it only says "something changed since you last looked", so a slow reader re-reads the
latest state instead of piling up a backlog, and memory per subscriber stays constant. The
in-process feed serves embedded mode; in multi-node mode :meth:`ChangeFeed.forward_to` hands
every local publish to a bridge (``lanner.store.sqlalchemy.notifications``, PostgreSQL ``LISTEN/NOTIFY``)
that sends it to the other processes and publishes theirs here with
:meth:`ChangeFeed.publish_local`. Without a bridge (embedded mode) forwarding is a no-op.

:attr:`ChangeFeed.ends` carries a little more than a wake-up, in one process only: a waiter
for an execution's end (``wait=true``) says so, and the executor loop of the same process,
once the step that ended it is committed, leaves the execution and its task runs there, so
the answer needs no read. Elsewhere (the API on another node) the waiter reads as before.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from lanner.domain.executions import Execution, TaskRun


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


class EndedExecutions:
    """Ends committed in this process, kept only for the waiters that asked for them (so at
    most one entry per waiting request); the waiter takes its entry away."""

    __slots__ = ("_awaited", "_ended")

    def __init__(self) -> None:
        self._awaited: dict[str, int] = {}
        self._ended: dict[str, tuple[Execution, list[TaskRun]]] = {}

    @contextmanager
    def awaiting(self, execution_id: str) -> Iterator[None]:
        """While inside, the end of ``execution_id`` is kept here for :meth:`take`."""
        self._awaited[execution_id] = self._awaited.get(execution_id, 0) + 1
        try:
            yield
        finally:
            left = self._awaited.pop(execution_id) - 1
            if left:
                self._awaited[execution_id] = left
            else:
                self._ended.pop(execution_id, None)

    def is_awaited(self, execution_id: str) -> bool:
        return execution_id in self._awaited

    def put(self, execution: Execution, task_runs: list[TaskRun]) -> None:
        """``execution`` ended, committed with ``task_runs`` (all of them, by position)."""
        if execution.id in self._awaited:
            self._ended[execution.id] = (execution, task_runs)

    def take(self, execution_id: str) -> tuple[Execution, list[TaskRun]] | None:
        return self._ended.pop(execution_id, None)


class ChangeFeed:
    """In-process publish/subscribe of change notifications (call from the event loop)."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._forward: Callable[[Sequence[str]], None] | None = None
        self.ends = EndedExecutions()

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
