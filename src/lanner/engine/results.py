"""The one path of task results from a worker to the executor, whatever the process layout.

A worker reports each finished job as a :class:`TaskResult` to its :class:`Results`; the wiring
(``engine/service.py``) picks the transport once:

- :class:`StoredResults` (durable; a worker with no executor in its process):
  ``complete_jobs`` ends each job and adds its result event in one transaction, then
  ``WORK_TOPIC`` wakes the executor, which reads the events with ``due_events``.
- :class:`LocalResults` (the embedded engine): results wait in memory, for the executor loop
  of this process, as events with no row (``id`` None) that name the job they end
  (``job_id``). The loop takes them with the store's due events (:meth:`LocalResults.take`);
  the step that handles one deletes its job in the same transaction, so a crash before that
  commit runs the job again — no event row, no ``due_events`` read. Results reported once it
  is closed (the engine stopping), handed back at the loop's stop, or given back after a job
  of a failed write was gone, go the durable way.

Either way the executor sees events, and a step's ``consumed_events`` and ``finished_jobs``
come straight from them.

New executions take the same short way in one process (:meth:`LocalResults.admit`): the
submitter hands the execution to the loop, which decides its first step (and, with pure jobs,
runs the whole flow inline) and inserts the row in that step's transaction, group-committed
with every other step of the batch: one write instead of ``create_execution`` + ``due_events``
+ the step. ``admit`` returns once that commit is done (the execution is durable before the
API answers); a batch that fails, or a loop that is stopping, refuses it and the submitter
stores it the usual way (its ``created`` event row).
Imports the domain, the store protocols and the feed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

import orjson

from lanner.domain.executions import Execution
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed
from lanner.store import ExecutorEvent, JobGoneError, NewEvent, Store

log = logging.getLogger("lanner.engine")


@dataclass(frozen=True, slots=True)
class TaskResult:
    """What a worker says about one job it finished: the event for the executor."""

    job_id: str
    tenant_id: str
    event: NewEvent


@dataclass(frozen=True, slots=True)
class Admission:
    """A new execution handed to the loop: ``decided`` says whether its step committed it
    (True) or the submitter must store it itself (False)."""

    execution: Execution
    decided: asyncio.Future[bool]


class Results(Protocol):
    """Where a worker reports its results (durable once this returns, or owned by the
    executor of this process, which ends each job in the transaction applying its result)."""

    async def report(self, results: Sequence[TaskResult]) -> None: ...


class StoredResults:
    """Results through the store: each job's end and its event in one transaction."""

    def __init__(self, store: Store, feed: ChangeFeed) -> None:
        self._store = store
        self._feed = feed

    async def report(self, results: Sequence[TaskResult]) -> None:
        if not results:
            return
        await self._store.complete_jobs([(result.job_id, result.event) for result in results])
        self._feed.publish(WORK_TOPIC)


class LocalResults:
    """Results handed to the executor loop of this process (falling back to ``durable``)."""

    def __init__(self, durable: StoredResults, *, clock: Callable[[], datetime]) -> None:
        self._durable = durable
        self._clock = clock
        self._pending: list[ExecutorEvent] = []
        self._admissions: list[Admission] = []
        self._admitting = False  # while an executor loop runs and takes them
        self._loop_task: asyncio.Task[Any] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    # -- the worker's side ---------------------------------------------------------------------

    async def report(self, results: Sequence[TaskResult]) -> None:
        if self._closed:
            await self._durable.report(results)
            return
        now = self._clock()
        for result in results:
            event = result.event
            # The round trip through JSON a stored event makes (tuples become lists...).
            payload = round_trip(event.payload)
            self._pending.append(
                ExecutorEvent(
                    id=None,
                    execution_id=event.execution_id,
                    kind=event.kind,
                    payload=payload,
                    available_at=event.available_at or now,
                    tenant_id=result.tenant_id,
                    job_id=result.job_id,
                )
            )
        if results:
            self._wake.set()

    # -- the submitter's side ------------------------------------------------------------------

    async def admit(self, execution: Execution) -> bool:
        """Hand ``execution`` (new, due now) to the loop; True once its first step committed
        it, False when the caller must store it (the loop stopping, the batch failed)."""
        if self._closed or not self._admitting or self._loop_task is asyncio.current_task():
            return False  # (from the loop itself it would wait for its own next write)
        decided: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._admissions.append(Admission(execution, decided))
        self._wake.set()
        # Shielded: a caller gone (a client disconnecting) leaves the commit to happen.
        return await asyncio.shield(decided)

    def close(self) -> None:
        """From now on results go through the store (the engine is stopping); executions
        waiting for admission are refused (their submitters store them)."""
        self._closed = True
        refuse(self.take_admissions())

    # -- the executor loop's side --------------------------------------------------------------

    @property
    def has_pending(self) -> bool:
        return bool(self._pending) or bool(self._admissions)

    def take(self) -> list[ExecutorEvent]:
        """The results waiting, oldest first; they are the caller's now."""
        pending, self._pending = self._pending, []
        if not self._admissions:
            self._wake.clear()
        return pending

    def start_admitting(self) -> None:
        """Called by the executor loop's task: from now on it takes admissions."""
        self._admitting = True
        self._loop_task = asyncio.current_task()

    def stop_admitting(self) -> None:
        """No more admissions; those waiting are refused (their submitters store them)."""
        self._admitting = False
        refuse(self.take_admissions())

    def take_admissions(self) -> list[Admission]:
        """The new executions waiting, oldest first; the caller settles each one."""
        admissions, self._admissions = self._admissions, []
        if not self._pending:
            self._wake.clear()
        return admissions

    async def wait(self) -> None:
        """Return once a result is waiting."""
        await self._wake.wait()

    async def give_back(self, events: Sequence[ExecutorEvent], error: Exception) -> None:
        """After a failed write, the results it carried are decided on again: from the store
        when a job was gone (``complete_jobs`` drops the results of jobs that are gone, adds
        the others), or from here (a transient failure: the next batch retries them)."""
        if not events:
            return
        if isinstance(error, JobGoneError):
            try:
                await self._durable.report(as_results(events))
            except Exception:  # their jobs run again once their lease expires
                log.exception("could not store %d task results", len(events))
            return
        self._pending[:0] = events

    async def hand_back(self) -> None:
        """At the loop's stop: the results not decided on go to the store (durable), and so
        do those reported from now on."""
        self.close()
        pending = self.take()
        if pending:
            try:
                await self._durable.report(as_results(pending))
            except Exception:  # their jobs run again at the next start
                log.exception("could not store %d task results at stop", len(pending))


def settle(admissions: Sequence[Admission], committed: bool) -> None:
    """Tell each submitter whether its execution was committed."""
    for admission in admissions:
        if not admission.decided.done():
            admission.decided.set_result(committed)


def refuse(admissions: Sequence[Admission]) -> None:
    settle(admissions, False)


def as_results(events: Sequence[ExecutorEvent]) -> list[TaskResult]:
    """Results handed over in process, back as the worker reported them."""
    return [
        TaskResult(
            event.job_id,
            event.tenant_id,
            NewEvent(event.execution_id, event.kind, event.payload),
        )
        for event in events
        if event.job_id is not None
    ]


def round_trip(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` as a stored event gives it back: the round trip through JSON (tuples
    become lists...)."""
    return cast(dict[str, Any], orjson.loads(orjson.dumps(payload, default=_json_default)))


def _json_default(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a JSON document")
