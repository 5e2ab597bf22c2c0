"""Living through store outages: retries with backoff and jitter, and a bound past which the
process gives up (exits non-zero, so that a supervisor restarts it).

Every long-running loop of a role (executor loop, worker claims, heartbeats and result
reports, log writer, scheduler, flow-trigger role, the leader's term) catches a failed store
call, logs it once per outage (a warning with the reason, then quiet until the store is back),
and awaits :meth:`Backoff.pause` before trying again: exponential delays from
:data:`BASE_DELAY_S` to :data:`MAX_DELAY_S` with full jitter (so that the nodes of a cluster
do not reconnect in lockstep); the store's threads open fresh connections on the next call.
When the store stays unreachable longer than the outage limit (``LANNER_STORE_OUTAGE_LIMIT``,
default :data:`DEFAULT_OUTAGE_LIMIT_S`), :meth:`Backoff.pause` reports a
:class:`StoreLostError` through :func:`give_up` and raises it: the role's main coroutine
(``bootstrap.run_role``) waits on :func:`wait_fatal` beside its stop signal, stops and exits
non-zero. Imports the standard library and ``lanner.errors``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from lanner.errors import LannerError, StoreUnavailableError

log = logging.getLogger("lanner.resilience")

BASE_DELAY_S = 0.05
MAX_DELAY_S = 2.0
DEFAULT_OUTAGE_LIMIT_S = 300.0

_outage_limit_s = DEFAULT_OUTAGE_LIMIT_S
_fatal: list[BaseException] = []
_fatal_event: asyncio.Event | None = None


class StoreLostError(LannerError):
    """The store stayed unreachable past the outage limit: the process must exit."""


def set_outage_limit(seconds: float) -> None:
    """How long a role keeps retrying through an outage before it gives up (the settings)."""
    global _outage_limit_s
    _outage_limit_s = seconds


def outage_limit_s() -> float:
    return _outage_limit_s


def give_up(error: BaseException) -> None:
    """Record a fatal error: :func:`wait_fatal` returns it."""
    _fatal.append(error)
    if _fatal_event is not None:
        _fatal_event.set()


async def wait_fatal() -> BaseException:
    """Return the first fatal error reported by :func:`give_up` (waits until there is one)."""
    global _fatal_event
    if _fatal_event is None:
        _fatal_event = asyncio.Event()
    if _fatal:
        return _fatal[0]
    await _fatal_event.wait()
    return _fatal[0]


def reset_fatal() -> None:
    """Forget reported errors (a new run in the same process: tests)."""
    global _fatal_event
    _fatal.clear()
    _fatal_event = None


def watch(task: asyncio.Task[None]) -> asyncio.Task[None]:
    """A role's long-running ``task``: if it ever ends with an error, the process gives up
    (:func:`give_up`: it exits non-zero) instead of living on without it."""

    def ended(finished: asyncio.Task[None]) -> None:
        if finished.cancelled():
            return
        error = finished.exception()
        if error is not None:
            if not isinstance(error, StoreLostError):
                log.critical("%s ended with an error", finished.get_name(), exc_info=error)
            give_up(error)

    task.add_done_callback(ended)
    return task


def is_store_error(error: BaseException) -> bool:
    """Whether ``error`` says the store could not be reached (rather than a bug)."""
    return isinstance(error, StoreUnavailableError | OSError | TimeoutError)


class Backoff:
    """Delays between the retries of one loop: exponential, jittered, reset on success."""

    def __init__(
        self,
        what: str,
        *,
        base_s: float = BASE_DELAY_S,
        cap_s: float = MAX_DELAY_S,
        limit_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.what = what
        self._base_s = base_s
        self._cap_s = cap_s
        self._limit_s = limit_s
        self._clock = clock
        self._rand = rand
        self.failures = 0
        self._since: float | None = None

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def delay_s(self) -> float:
        """The next delay (full jitter over the exponential bound)."""
        bound = min(self._cap_s, self._base_s * 2.0 ** min(self.failures, 30))
        return bound / 2 + self._rand() * bound / 2

    def succeeded(self) -> None:
        """The store answered: the next failure starts a new outage."""
        if self.failures:
            elapsed = self._clock() - (self._since or self._clock())
            log.warning(
                "%s: the store is back after %.1f s (%d failed tries)",
                self.what,
                elapsed,
                self.failures,
            )
        self.failures = 0
        self._since = None

    async def pause(self, error: BaseException) -> None:
        """Log ``error`` (once per outage), wait the next delay; raise :class:`StoreLostError`
        (also reported to :func:`give_up`) when the outage lasts past the limit."""
        now = self._clock()
        if self._since is None:
            self._since = now
        limit = self._limit_s if self._limit_s is not None else _outage_limit_s
        if now - self._since > limit:
            lost = StoreLostError(
                f"{self.what}: the store is unreachable for {now - self._since:.0f} s "
                f"(limit {limit:.0f} s): giving up — {_first_line(error)}"
            )
            log.critical("%s", lost.message)
            give_up(lost)
            raise lost from error
        if self.failures == 0:
            if is_store_error(error):
                log.warning("%s: %s; retrying", self.what, _first_line(error))
            else:
                log.error("%s failed; retrying", self.what, exc_info=error)
        self.failures += 1
        await asyncio.sleep(self.delay_s())


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
