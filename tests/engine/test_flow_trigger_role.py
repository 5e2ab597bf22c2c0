"""The flow-trigger role on the real store (no executor running): transitions recorded at
injected instants, a crash before the settle, the window of a multiple condition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lanner.domain.executions import Execution, State
from lanner.domain.states import StateType
from lanner.engine.feeds import ChangeFeed
from lanner.engine.flow_trigger_role import FlowTriggerRole
from lanner.engine.submit import Submitter
from lanner.flows import flow_document, parse_flow
from lanner.store import ExecutionQuery, ExecutionStep, NewFlowRevision, Store, Transition

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
NS = "company.team"


def upstream_source(flow_id: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: {NS}\ntasks:\n"
        "  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n"
    )


DOWNSTREAM = f"""
id: down
namespace: {NS}
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.executionId }}}}"
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: pair
      timeWindow:
        type: SLIDING_WINDOW
        window: PT1H
      flows:
        - namespace: {NS}
          flowId: a
        - namespace: {NS}
          flowId: b
"""


async def deploy(store: Store, source: str) -> None:
    flow = parse_flow(source)
    await store.add_flow_revision(
        NewFlowRevision("main", flow.namespace, flow.id, source, flow_document(flow)),
        expected_revision=None,
    )


async def end(store: Store, flow_id: str, execution_id: str, at: datetime) -> Transition:
    """An execution of ``flow_id`` that ended SUCCESS at ``at``, and its recorded transition."""
    execution = Execution(
        id=execution_id,
        tenant_id="main",
        namespace=NS,
        flow_id=flow_id,
        flow_revision=1,
        state=State.of(StateType.CREATED, at),
    )
    await store.create_execution(execution)
    ended = execution.with_state(StateType.SUCCESS, at)
    transition = Transition("main", execution_id, NS, flow_id, StateType.SUCCESS, at)
    await store.apply_steps([ExecutionStep(execution_id, ended, transitions=(transition,))])
    [pending] = await store.pending_transitions(10)
    return pending


async def downstream(store: Store) -> list[Execution]:
    page = await store.search_executions(ExecutionQuery("main", NS, "down", size=50))
    return list(page.results)


@pytest.fixture
async def role(store: Store) -> FlowTriggerRole:
    for flow_id in ("a", "b"):
        await deploy(store, upstream_source(flow_id))
    await deploy(store, DOWNSTREAM)
    feed = ChangeFeed()
    return FlowTriggerRole(store, feed, Submitter(store, feed, clock=lambda: T0))


async def test_preconditions_fire_only_within_the_sliding_window(
    store: Store, role: FlowTriggerRole
) -> None:
    await end(store, "a", "a1", T0)
    assert await role.process_pending() == 1
    await end(store, "b", "b1", T0 + timedelta(hours=2))  # a's window closed at T0 + 1h
    assert await role.process_pending() == 1
    assert await downstream(store) == []
    await end(store, "a", "a2", T0 + timedelta(hours=2, minutes=30))  # b's window is open
    assert await role.process_pending() == 1
    [started] = await downstream(store)
    assert started.trigger is not None
    assert started.trigger.variables["executionId"] == "a2"
    assert started.trigger.variables["state"] == "SUCCESS"
    # resetOnSuccess: the window starts over, so b alone fires nothing more.
    await end(store, "b", "b2", T0 + timedelta(hours=2, minutes=40))
    assert await role.process_pending() == 1
    assert len(await downstream(store)) == 1
    assert await store.get_windows("main", NS, "down") != []


async def test_a_crash_before_the_settle_starts_the_downstream_once(
    store: Store, role: FlowTriggerRole, monkeypatch: pytest.MonkeyPatch
) -> None:
    await end(store, "a", "a1", T0)
    await role.process_pending()
    transition = await end(store, "b", "b1", T0 + timedelta(minutes=5))
    settle = store.settle_transition

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process died before the settle")

    monkeypatch.setattr(store, "settle_transition", crash)
    await role.refresh()
    with pytest.raises(RuntimeError):
        await role.handle(transition)
    assert len(await downstream(store)) == 1  # submitted, not settled
    monkeypatch.setattr(store, "settle_transition", settle)
    # The next start handles the same transition again: the same execution, not a second one.
    restarted = FlowTriggerRole(store, ChangeFeed(), Submitter(store, ChangeFeed()))
    assert await restarted.process_pending() == 1
    assert len(await downstream(store)) == 1
    assert await store.pending_transitions(10) == []
