"""Reading executions for the API: the store seen as an ExecutionStore, 404s, waiting for ends.

Waiting (``wait=true``, follow, the 2.0 actions) subscribes to the execution's topic on the
change feed and re-reads the execution on each wake-up, so a slow reader gets the latest state,
never a backlog; a short safety poll covers changes published by another process. A new
execution's waiter (:func:`wait_for_end`) takes the end from the feed when the executor loop
of this process committed it (``ChangeFeed.ends``): no read at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lanner.api.context import Services
from lanner.domain.executions import Execution, TaskRun
from lanner.engine.feeds import EndedExecutions, Subscription, execution_topic
from lanner.engine.runs import is_stale
from lanner.errors import NotFoundError
from lanner.storage import LocalStorage
from lanner.store import ExecutionStore

WAIT_TIMEOUT_S = 3600.0
"""Kestra 1.x gives up waiting after one idle hour."""
SAFETY_POLL_S = 1.0
"""Re-read at least this often even without a wake-up (multi-node, lost notifications)."""


def executions_of(services: Services) -> ExecutionStore:
    """The store's execution half."""
    return services.store


def storage_of(services: Services) -> LocalStorage:
    """The internal storage (built once, by ``lanner.bootstrap``)."""
    return services.storage


def not_found(execution_id: str) -> NotFoundError:
    return NotFoundError(f"Execution '{execution_id}' not found")


async def get_or_404(services: Services, tenant: str, execution_id: str) -> Execution:
    execution = await executions_of(services).get_execution(tenant, execution_id)
    if execution is None:
        raise not_found(execution_id)
    return execution


async def with_task_runs(
    services: Services, tenant: str, execution_id: str
) -> tuple[Execution, list[TaskRun]]:
    """The execution and its task runs (read after it, so runs are never older than it)."""
    execution = await get_or_404(services, tenant, execution_id)
    return execution, visible_runs(await executions_of(services).list_task_runs(execution_id))


def visible_runs(runs: list[TaskRun]) -> list[TaskRun]:
    """Task runs without those a restart superseded (absent until the engine reaches them)."""
    return [run for run in runs if not is_stale(run)]


def is_done(execution: Execution) -> bool:
    """Terminated and not paused: what ``wait=true`` and follow wait for."""
    return execution.state.is_terminated


async def wait_until(
    services: Services,
    tenant: str,
    execution_id: str,
    is_reached: Callable[[Execution], bool] = is_done,
    *,
    timeout_s: float = WAIT_TIMEOUT_S,
    subscription: Subscription | None = None,
    known: Execution | None = None,
) -> Execution:
    """The execution once ``is_reached`` holds, or as it is when ``timeout_s`` ran out.

    Pass a ``subscription`` taken *before* the change was requested so no wake-up is lost, and
    the execution as ``known`` when it was just read or written (the first read is skipped).
    Each wake-up reads the execution row only.
    """
    owned = subscription is None
    sub = subscription or services.feed.subscribe(execution_topic(execution_id))
    deadline = time.monotonic() + timeout_s
    execution = known
    try:
        while True:
            if execution is None:
                execution = await get_or_404(services, tenant, execution_id)
            remaining = deadline - time.monotonic()
            if is_reached(execution) or remaining <= 0:
                return execution
            await sub.wait(min(remaining, SAFETY_POLL_S))
            execution = None
    finally:
        if owned:
            sub.close()


async def wait_for_end(
    services: Services,
    tenant: str,
    execution_id: str,
    *,
    subscription: Subscription,
    known: Execution,
    timeout_s: float = WAIT_TIMEOUT_S,
) -> tuple[Execution, list[TaskRun]]:
    """A new execution once it ended (or as it is when ``timeout_s`` ran out) and its visible
    task runs. Call inside ``services.feed.ends.awaiting(execution_id)`` and ``subscription``,
    both entered before the submit, and pass the submitted execution as ``known``."""
    ends: EndedExecutions = services.feed.ends
    deadline = time.monotonic() + timeout_s
    execution: Execution | None = known
    runs: list[TaskRun] | None = None
    while True:
        ended = ends.take(execution_id)
        if ended is not None and ended[0].tenant_id == tenant:
            return ended[0], visible_runs(ended[1])
        if execution is None:  # one read: the task runs come with the end
            found = await executions_of(services).get_ended_execution(tenant, execution_id)
            if found is None:
                raise not_found(execution_id)
            execution, runs = found
        remaining = deadline - time.monotonic()
        if is_done(execution) or remaining <= 0:
            if runs is None:
                runs = await executions_of(services).list_task_runs(execution_id)
            return execution, visible_runs(runs)
        await subscription.wait(min(remaining, SAFETY_POLL_S))
        execution, runs = None, None
