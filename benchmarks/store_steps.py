"""Cost of the engine's hot write, ``apply_steps``, per task-run step, by batch size.

A step is what finishing one task typically writes: the execution row (new state), the
finished task run updated, the next task run created, a job queued for it, and the event that
triggered the step consumed. Measured on SQLite (a temporary file) and, when
``LANNER_TEST_POSTGRES_URL`` is set, on a temporary PostgreSQL database:

- ``sequential_1``: one step per call, each call awaited before the next (a lone execution);
- ``concurrent_1``: one step per call, 100 calls in flight (the writer groups them);
- ``batch_N``: N steps of N executions in one call (the executor's group commit).

Run: ``python benchmarks/store_steps.py``; prints one JSON object (microseconds per step).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from lanner.domain.executions import Execution, State, TaskRun
from lanner.domain.states import StateType
from lanner.store import DEFAULT_TENANT, ExecutionStep, NewEvent, NewJob, Store, open_store

EXECUTIONS = 100
STEPS_PER_EXECUTION = 10
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass
class Run:
    """One execution moving through its tasks: its latest rows and pending event."""

    execution: Execution
    previous: TaskRun | None = None
    event_id: int | None = None
    step: int = 0


def new_execution(execution_id: str) -> Execution:
    return Execution(
        id=execution_id,
        tenant_id=DEFAULT_TENANT,
        namespace="bench",
        flow_id="steps",
        flow_revision=1,
        state=State.of(StateType.CREATED, T0),
        inputs={"name": "world", "count": 3},
    )


def next_step(run: Run) -> ExecutionStep:
    at = T0 + timedelta(milliseconds=run.step + 1)
    execution = run.execution.with_state(StateType.RUNNING, at)
    task_runs: list[TaskRun] = []
    if run.previous is not None:
        finished = run.previous.with_state(StateType.SUCCESS, at)
        task_runs.append(replace(finished, outputs={"value": f"result {run.step}"}))
    created = TaskRun(
        id=f"{execution.id}-t{run.step}",
        tenant_id=DEFAULT_TENANT,
        execution_id=execution.id,
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        task_id=f"t{run.step}",
        state=State.of(StateType.CREATED, at),
    )
    task_runs.append(created)
    run.execution, run.previous, run.step = execution, created, run.step + 1
    consumed = (run.event_id,) if run.event_id is not None else ()
    return ExecutionStep(
        execution.id,
        execution=execution,
        task_runs=tuple(task_runs),
        jobs=(NewJob(DEFAULT_TENANT, execution.id, created.id, "run", {"task": created.task_id}),),
        events=(NewEvent(execution.id, "tick", available_at=T0 + timedelta(days=365)),),
        consumed_events=consumed,
    )


async def prepare(store: Store, prefix: str) -> list[Run]:
    runs = [Run(new_execution(f"{prefix}-{i}")) for i in range(EXECUTIONS)]
    await asyncio.gather(*(store.create_execution(run.execution) for run in runs))
    by_id = {run.execution.id: run for run in runs}
    for event in await store.due_events(datetime.now(UTC), EXECUTIONS * 2):
        if event.execution_id in by_id:
            by_id[event.execution_id].event_id = event.id
    return runs


async def measure(store: Store, mode: str, batch: int) -> float:
    """Microseconds per step, wall clock, the building of the steps left out."""
    runs = await prepare(store, f"{mode}{batch}-{secrets.token_hex(3)}")
    elapsed = 0.0
    for _ in range(STEPS_PER_EXECUTION):
        steps = [next_step(run) for run in runs]
        start = time.perf_counter()
        if mode == "sequential":
            for step in steps:
                await store.apply_steps([step])
        elif mode == "concurrent":
            await asyncio.gather(*(store.apply_steps([step]) for step in steps))
        else:
            for i in range(0, len(steps), batch):
                await store.apply_steps(steps[i : i + batch])
        elapsed += time.perf_counter() - start
    return elapsed / (len(runs) * STEPS_PER_EXECUTION) * 1e6


async def bench(database_url: str) -> dict[str, float]:
    store = open_store(database_url)
    await store.start()
    try:
        await measure(store, "batch", 10)  # warm-up: statement caches, connections
        return {
            "sequential_1_us": round(await measure(store, "sequential", 1), 1),
            "concurrent_1_us": round(await measure(store, "concurrent", 1), 1),
            "batch_10_us": round(await measure(store, "batch", 10), 1),
            "batch_100_us": round(await measure(store, "batch", 100), 1),
        }
    finally:
        await store.close()


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    name = f"lanner_bench_{secrets.token_hex(4)}"
    admin = urlunsplit(urlsplit(server_url)._replace(scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    results: dict[str, object] = {
        "step": "execution update + 1 task run updated + 1 created + 1 job + 1 event, 1 consumed",
        "executions": EXECUTIONS,
        "steps_per_execution": STEPS_PER_EXECUTION,
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = await bench(f"sqlite:///{Path(tmp) / 'bench.db'}")
    server_url = os.environ.get("LANNER_TEST_POSTGRES_URL")
    if server_url:
        with postgres_database(server_url) as url:
            results["postgresql"] = await bench(url)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
