"""Retries through store outages: jittered, growing delays; a give-up past the outage limit
that the role's main coroutine sees (it then exits non-zero)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from lanner.engine import resilience
from lanner.engine.resilience import Backoff, StoreLostError
from lanner.errors import StoreUnavailableError


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    resilience.reset_fatal()
    yield
    resilience.reset_fatal()


def test_delays_grow_with_jitter_up_to_the_cap() -> None:
    low = Backoff("x", base_s=0.1, cap_s=1.0, rand=lambda: 0.0)
    high = Backoff("x", base_s=0.1, cap_s=1.0, rand=lambda: 1.0)
    bounds = []
    for failures in range(8):
        low.failures = high.failures = failures
        bounds.append((low.delay_s(), high.delay_s()))
    assert bounds[0] == (0.05, 0.1)
    assert bounds[1] == (0.1, 0.2)
    assert bounds[-1] == (0.5, 1.0)  # capped


async def test_an_outage_past_the_limit_gives_up_and_is_reported() -> None:
    clock = [0.0]
    backoff = Backoff("probe", base_s=0.001, limit_s=5.0, clock=lambda: clock[0])
    error = StoreUnavailableError("database unavailable: gone")
    await backoff.pause(error)
    clock[0] = 4.0
    await backoff.pause(error)
    fatal = asyncio.ensure_future(resilience.wait_fatal())
    clock[0] = 6.0
    with pytest.raises(StoreLostError, match="probe"):
        await backoff.pause(error)
    assert isinstance(await asyncio.wait_for(fatal, 1.0), StoreLostError)


async def test_a_success_starts_the_next_outage_afresh() -> None:
    clock = [0.0]
    backoff = Backoff("probe", base_s=0.001, limit_s=5.0, clock=lambda: clock[0])
    error = StoreUnavailableError("down")
    await backoff.pause(error)
    clock[0] = 4.0
    backoff.succeeded()
    assert not backoff.failing
    clock[0] = 8.0
    await backoff.pause(error)  # a new outage: 0 s old, not 8
    assert backoff.failures == 1


async def test_a_watched_task_that_dies_makes_the_process_give_up() -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    task = resilience.watch(asyncio.create_task(broken(), name="probe-loop"))
    await asyncio.gather(task, return_exceptions=True)
    fatal = await asyncio.wait_for(resilience.wait_fatal(), 1.0)
    assert isinstance(fatal, RuntimeError)
