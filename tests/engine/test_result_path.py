"""The result path from worker to executor, run against both process layouts.

``layout`` is parametrized over ``embedded`` (``Engine``: loop and worker in one process,
results handed over in memory) and ``multi_node`` (``ExecutorService`` and ``WorkerService`` as
separate objects sharing the store and a feed, results through the store), each on both store
backends. The last tests drive :class:`LocalResults` against a real store: results the loop
had not decided on when it stops, and those of a write that failed, are not lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import pytest
from tests.engine.conftest import Harness

from lanner.domain.states import StateType
from lanner.engine import events as ev
from lanner.engine.feeds import ChangeFeed
from lanner.engine.loop import ExecutorLoop, utc_now
from lanner.engine.results import LocalResults, StoredResults, TaskResult
from lanner.engine.service import Engine, ExecutorService, WorkerService
from lanner.engine.snapshots import FlowCache, Snapshots
from lanner.store import ExecutionStep, Job, JobClaim, JobGoneError, NewEvent, NewJob, Store

S = StateType
RET = "io.kestra.plugin.core.debug.Return"
TEMPLATED = "io.kestra.plugin.core.templating.TemplatedTask"
FLOWS = "io.kestra.plugin.core.flow"
FAR = timedelta(days=1)


def flow(tasks: str, flow_id: str = "results") -> str:
    return f"id: {flow_id}\nnamespace: company.team\ntasks:\n{tasks}"


class Roles(Protocol):
    @property
    def worker(self) -> Any: ...

    async def start(self) -> None: ...

    async def stop(self, grace_s: float = 10.0) -> None: ...


class Leader:
    """Leadership that is always held (one executor)."""

    async def acquire(self) -> None:
        return None

    async def wait_lost(self) -> None:
        await asyncio.Event().wait()

    async def release(self) -> None:
        return None

    def fence(self) -> None:
        return None  # unfenced: nobody else leads


class MultiNode:
    """An executor and a worker as separate roles (what separate processes run)."""

    def __init__(self, store: Store, feed: ChangeFeed) -> None:
        self.executor = ExecutorService(store, feed, Leader(), executor_id="node-a/executor")
        self.service = WorkerService(store, feed, worker_id="node-b/worker", concurrency=8)
        self.worker = self.service.worker

    async def start(self) -> None:
        await self.executor.start()
        await self.service.start()

    async def stop(self, grace_s: float = 10.0) -> None:
        await self.service.stop(grace_s)
        await self.executor.stop(grace_s)


def embedded(store: Store, feed: ChangeFeed) -> Roles:
    return Engine(store, feed, worker_concurrency=8, worker_id="node-a/embedded")


@dataclass
class Layout:
    name: str
    store: Store
    feed: ChangeFeed
    build: Callable[[Store, ChangeFeed], Roles]
    roles: Roles | None = None
    completed: list[int] = field(default_factory=list)  # sizes of complete_jobs calls

    @property
    def h(self) -> Harness:
        return Harness(self.store, self.feed, engine=None)  # type: ignore[arg-type]

    async def start(self) -> None:
        self.roles = self.build(self.store, self.feed)
        await self.roles.start()

    async def stop(self, grace_s: float = 2.0) -> None:
        roles, self.roles = self.roles, None
        if roles is not None:
            await roles.stop(grace_s)

    async def restart(self, grace_s: float) -> None:
        """Stop every role, then start new ones (a new process) on the same store."""
        await self.stop(grace_s)
        await self.start()


@pytest.fixture(params=["embedded", "multi_node"])
async def layout(request: pytest.FixtureRequest, store: Store) -> AsyncIterator[Layout]:
    build: Callable[[Store, ChangeFeed], Roles] = (
        embedded if request.param == "embedded" else MultiNode
    )
    result = Layout(request.param, store, ChangeFeed(), build)
    complete_jobs = store.complete_jobs

    async def counted(results: Any) -> None:
        result.completed.append(len(results))
        await complete_jobs(results)

    store.complete_jobs = counted  # type: ignore[method-assign]
    await result.start()
    try:
        yield result
    finally:
        await result.stop()
        del store.complete_jobs  # type: ignore[method-assign]


async def queued_jobs(store: Store) -> list[Job]:
    """Every job still in the queue (claimed or not), given back afterwards."""
    later = utc_now() + FAR
    await store.requeue_jobs(later + FAR)  # running ones: claimable again
    jobs = await store.claim_jobs("probe", later, 1000, 1.0)
    await store.requeue_jobs(utc_now(), "probe")
    return jobs


async def wait_running(layout: Layout, execution_id: str, *task_ids: str) -> None:
    """Until the worker runs ``task_ids`` (and no other job)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 10
    while True:
        runs = await layout.h.runs(execution_id)
        running = layout.roles.worker.running_count if layout.roles else 0
        if running == len(task_ids) and all(
            t in runs and runs[t].state.current is S.RUNNING for t in task_ids
        ):
            return
        assert loop.time() < end, f"{task_ids} not all running: {runs}"
        await asyncio.sleep(0.02)


async def test_sequential_tasks_each_run_once(layout: Layout) -> None:
    tasks = "".join(
        f'  - id: t{i}\n    type: {RET}\n    format: "{{{{ {prev} }}}}-{i}"\n'
        for i, prev in enumerate(["'x'", *(f"outputs.t{i}.value" for i in range(4))])
    )
    execution = await layout.h.run_flow(flow(tasks))
    assert execution.state.current is S.SUCCESS
    runs = await layout.h.runs(execution.id)
    assert runs["t4"].outputs == {"value": "x-0-1-2-3-4"}
    assert all(len(run.attempts) == 1 for run in runs.values())
    assert await queued_jobs(layout.store) == []
    assert await layout.store.due_events(utc_now() + FAR, 100) == []
    # Pure tasks run in the executor's own step, in both layouts: no job, no result to report.
    assert layout.completed == []
    executor_id = "node-a/embedded" if layout.name == "embedded" else "node-a/executor"
    assert {a.worker_id for run in runs.values() for a in run.attempts} == {executor_id}


async def test_sequential_worker_tasks_each_run_once(layout: Layout) -> None:
    # TemplatedTask is not pure: each runs on the worker and reports its result.
    tasks = "".join(
        f"  - id: t{i}\n    type: {TEMPLATED}\n    spec: |\n      type: {RET}\n"
        f'      format: "{{{{ {prev} }}}}-{i}"\n'
        for i, prev in enumerate(["'x'", *(f"outputs.t{i}.value" for i in range(4))])
    )
    execution = await layout.h.run_flow(flow(tasks))
    assert execution.state.current is S.SUCCESS
    runs = await layout.h.runs(execution.id)
    assert runs["t4"].outputs == {"value": "x-0-1-2-3-4"}
    assert all(len(run.attempts) == 1 for run in runs.values())
    assert await queued_jobs(layout.store) == []
    assert await layout.store.due_events(utc_now() + FAR, 100) == []
    if layout.name == "embedded":  # in memory: no event row per result
        assert layout.completed == []
    else:
        assert sum(layout.completed) == 5
        workers = {a.worker_id for run in runs.values() for a in run.attempts}
        assert workers == {"node-b/worker"}


async def test_parallel_tasks(layout: Layout) -> None:
    children = "".join(
        f'      - id: p{i}\n        type: {RET}\n        format: "v{i}"\n' for i in range(6)
    )
    source = flow(
        f"  - id: par\n    type: {FLOWS}.Parallel\n    tasks:\n{children}"
        f'  - id: after\n    type: {RET}\n    format: "{{{{ outputs.p5.value }}}}"\n'
    )
    execution = await layout.h.run_flow(source)
    assert execution.state.current is S.SUCCESS
    runs = await layout.h.runs(execution.id)
    assert [runs[f"p{i}"].outputs for i in range(6)] == [{"value": f"v{i}"} for i in range(6)]
    assert runs["after"].outputs == {"value": "v5"}
    assert await queued_jobs(layout.store) == []


async def test_failing_task_is_retried(layout: Layout) -> None:
    source = flow(
        "  - id: flaky\n    type: io.kestra.plugin.core.execution.Fail\n"
        '    condition: "{{ taskrun.attemptsCount < 2 }}"\n'
        "    retry:\n      type: constant\n      interval: PT0.05S\n      maxAttempt: 5\n"
        "  - id: never\n    type: io.kestra.plugin.core.execution.Fail\n"
    )
    execution = await layout.h.run_flow(source)
    assert execution.state.current is S.FAILED
    runs = await layout.h.runs(execution.id)
    assert [a.state.current for a in runs["flaky"].attempts] == [S.FAILED, S.FAILED, S.SUCCESS]
    assert [a.state.current for a in runs["never"].attempts] == [S.FAILED]
    assert await queued_jobs(layout.store) == []


async def test_kill_interrupts_a_running_task(layout: Layout) -> None:
    source = flow(
        f"  - id: nap\n    type: {FLOWS}.Sleep\n    duration: PT60S\n"
        f'  - id: after\n    type: {RET}\n    format: "x"\n'
    )
    execution_id = await layout.h.start(source)
    await wait_running(layout, execution_id, "nap")
    await layout.h.send(execution_id, ev.KILL, {"cascade": True})
    execution = await layout.h.wait_for(execution_id, deadline_s=10)
    assert execution.state.current is S.KILLED
    runs = await layout.h.runs(execution_id)
    assert runs["nap"].state.current is S.KILLED
    assert "after" not in runs
    assert await queued_jobs(layout.store) == []


async def test_restart_mid_flight_keeps_the_results_reported_at_stop(layout: Layout) -> None:
    naps = "".join(
        f"      - id: n{i}\n        type: {FLOWS}.Sleep\n        duration: PT0.4S\n"
        for i in range(3)
    )
    source = flow(
        f"  - id: par\n    type: {FLOWS}.Parallel\n    tasks:\n{naps}"
        f'  - id: after\n    type: {RET}\n    format: "done"\n'
    )
    execution_id = await layout.h.start(source)
    await wait_running(layout, execution_id, "n0", "n1", "n2")
    await layout.stop(grace_s=10.0)  # the naps end within the grace period
    # Each nap's result is durable: applied already, or an event waiting; its job is gone.
    runs = await layout.h.runs(execution_id)
    waiting = {
        e.payload.get("taskRunId")
        for e in await layout.store.due_events(utc_now() + FAR, 100)
        if e.execution_id == execution_id and e.kind == ev.TASK_RESULT
    }
    for task_id in ("n0", "n1", "n2"):
        assert runs[task_id].state.current is S.SUCCESS or runs[task_id].id in waiting
    nap_runs = {runs[t].id for t in ("n0", "n1", "n2")}
    assert not [j for j in await queued_jobs(layout.store) if j.task_run_id in nap_runs]

    await layout.start()
    execution = await layout.h.wait_for(execution_id)
    assert execution.state.current is S.SUCCESS
    runs = await layout.h.runs(execution_id)
    assert [len(runs[t].attempts) for t in ("n0", "n1", "n2")] == [1, 1, 1]
    assert runs["after"].outputs == {"value": "done"}
    assert await queued_jobs(layout.store) == []


async def test_restart_with_tasks_cut_short_runs_them_again(layout: Layout) -> None:
    source = flow(
        f"  - id: nap\n    type: {FLOWS}.Sleep\n    duration: PT0.5S\n"
        f'  - id: after\n    type: {RET}\n    format: "done"\n'
    )
    execution_id = await layout.h.start(source)
    await wait_running(layout, execution_id, "nap")
    await layout.restart(grace_s=0.0)  # the nap is cancelled: its job is handed back
    execution = await layout.h.wait_for(execution_id)
    assert execution.state.current is S.SUCCESS
    runs = await layout.h.runs(execution_id)
    assert runs["nap"].state.current is S.SUCCESS
    assert runs["after"].outputs == {"value": "done"}
    assert await queued_jobs(layout.store) == []


# -- LocalResults against a real store ---------------------------------------------------------


@dataclass
class Local:
    store: Store
    feed: ChangeFeed
    results: LocalResults
    loop: ExecutorLoop
    execution_id: str
    job: Job

    def result(self) -> TaskResult:
        payload = {"taskRunId": self.job.task_run_id}
        event = NewEvent(self.execution_id, ev.TASK_RESULT, payload)
        return TaskResult(self.job.id, self.job.tenant_id, event)


@pytest.fixture
async def local(store: Store) -> Local:
    """An execution with one job claimed by a worker, and a loop (not running) to report to."""
    feed = ChangeFeed()
    h = Harness(store, feed, engine=None)  # type: ignore[arg-type]
    execution_id = await h.start(flow(f'  - id: r\n    type: {RET}\n    format: "x"\n'))
    created = await store.due_events(utc_now(), 10)
    job_spec = NewJob("main", execution_id, "some-run", ev.JOB_RUN)
    steps = [ExecutionStep(execution_id, jobs=(job_spec,), consumed_events=(created[0].id,))]
    (job,) = await store.apply_steps(steps, claim=JobClaim("w", 1, 30.0))
    results = LocalResults(StoredResults(store, feed), clock=utc_now)
    loop = ExecutorLoop(store, feed, Snapshots(store, FlowCache(store)), results=results)
    return Local(store, feed, results, loop, execution_id, job)


async def stored_results(store: Store, execution_id: str) -> list[Any]:
    events = await store.due_events(utc_now() + FAR, 100)
    return [e.payload for e in events if e.execution_id == execution_id]


async def test_results_in_memory_have_no_row_and_name_their_job(local: Local) -> None:
    await local.results.report([local.result()])
    (event,) = local.results.take()
    assert event.id is None
    assert event.job_id == local.job.id
    assert event.tenant_id == "main"
    assert await stored_results(local.store, local.execution_id) == []  # nothing written


async def test_results_pending_when_the_loop_stops_are_stored(local: Local) -> None:
    await local.results.report([local.result()])
    local.loop.stop()
    await local.loop.run()  # stops at once: hands the pending result back
    assert await stored_results(local.store, local.execution_id) == [{"taskRunId": "some-run"}]
    assert await queued_jobs(local.store) == []  # the job ended with its event
    assert not local.results.has_pending
    # Reported after the stop: through the store too (nothing stays in memory).
    await local.results.report([local.result()])
    assert not local.results.has_pending


async def test_a_result_whose_job_is_gone_is_not_applied_twice(local: Local) -> None:
    await local.results.report([local.result()])
    await local.store.complete_jobs([(local.job.id, local.result().event)])  # ended elsewhere
    with pytest.raises(JobGoneError):
        await local.loop.process(local.results.take())
    assert not local.results.has_pending  # given back through the store, which drops it
    assert await stored_results(local.store, local.execution_id) == [{"taskRunId": "some-run"}]


async def test_results_of_a_failed_write_are_decided_on_again(
    local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(*args: Any, **kwargs: Any) -> list[Job]:
        raise RuntimeError("database is locked")

    await local.results.report([local.result()])
    taken = local.results.take()
    monkeypatch.setattr(local.store, "apply_steps", failing)
    with pytest.raises(RuntimeError):
        await local.loop.process(taken)
    assert local.results.take() == taken  # back in memory for the next batch
    monkeypatch.undo()
    await local.loop.process(taken)  # now applied: the step ends the job
    assert await queued_jobs(local.store) == []
    assert await stored_results(local.store, local.execution_id) == []
