"""Helpers of the executions API tests: deploying flows, and moving executions by hand
(as the engine would) where a test must not depend on the engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from lanner.api.context import Services
from lanner.domain.executions import Attempt, Execution, State, TaskRun, new_id
from lanner.domain.states import StateType
from lanner.engine.feeds import execution_topic
from lanner.store import ExecutionStep

YAML = {"Content-Type": "application/x-yaml"}


async def deploy(client: httpx.AsyncClient, source: str) -> dict[str, Any]:
    response = await client.post("/api/v1/flows", content=source, headers=YAML)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def log_flow(namespace: str, flow_id: str = "hello", extra: str = "") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n{extra}"
        "tasks:\n"
        "  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: one\n"
        "  - id: second\n    type: io.kestra.plugin.core.log.Log\n    message: two\n"
    )


async def create(
    client: httpx.AsyncClient, namespace: str, flow_id: str = "hello", **kwargs: Any
) -> dict[str, Any]:
    response = await client.post(f"/api/v1/executions/{namespace}/{flow_id}", **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def task_run(execution: Execution, task_id: str, state: StateType, at: datetime) -> TaskRun:
    run_state = State.of(StateType.CREATED, at).to(StateType.RUNNING, at).to(state, at)
    return TaskRun(
        id=new_id(),
        tenant_id=execution.tenant_id,
        execution_id=execution.id,
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        task_id=task_id,
        state=run_state,
        attempts=(Attempt(run_state),),
        outputs={"value": f"{task_id}-out"} if state is StateType.SUCCESS else None,
    )


async def move(
    services: Services,
    execution_id: str,
    state: StateType,
    runs: dict[str, StateType] | None = None,
    tenant: str = "main",
) -> tuple[Execution, list[TaskRun]]:
    """Write ``execution_id`` in ``state`` with task runs in the given states, as the engine
    would (RUNNING first), and wake followers."""
    store = services.store
    execution = await store.get_execution(tenant, execution_id)
    assert execution is not None
    at = execution.state.start_date + timedelta(seconds=1)
    moved = execution.with_state(StateType.RUNNING, at)
    end = at + timedelta(milliseconds=1500)
    moved = moved.with_state(state, end)
    made = [task_run(execution, task_id, s, end) for task_id, s in (runs or {}).items()]
    await store.apply_steps([ExecutionStep(execution_id, execution=moved, task_runs=tuple(made))])
    services.feed.publish(execution_topic(execution_id))
    return moved, made
