"""The flow-trigger store contract (transitions, windows, changed flows), SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from tests.store.conftest import NewFlow
from tests.store.factories import at, execution

from lanner.domain.states import StateType
from lanner.store import ExecutionStep, Store, Transition, TriggerWindow, WindowKey

KEY = WindowKey("main", "company.team", "down", "listen", "pair")


def transition(execution_id: str, state: StateType = StateType.SUCCESS) -> Transition:
    return Transition("main", execution_id, "company.team", "up", state, at(5))


async def test_transitions_are_written_with_the_step_and_settled_once(store: Store) -> None:
    ended = execution("e1", state=StateType.SUCCESS)
    await store.create_execution(execution("e1"))
    await store.apply_steps([ExecutionStep("e1", execution=ended, transitions=(transition("e1"),))])
    await store.apply_steps(
        [ExecutionStep("e1", transitions=(transition("e1", StateType.FAILED),))]
    )
    pending = await store.pending_transitions(10)
    assert [(t.execution_id, t.state) for t in pending] == [
        ("e1", StateType.SUCCESS),
        ("e1", StateType.FAILED),
    ]
    first = pending[0]
    assert first.id is not None
    assert pending[1].id is not None
    assert first.id < pending[1].id
    assert first.at == at(5)
    assert (first.namespace, first.flow_id) == ("company.team", "up")
    assert len(await store.pending_transitions(1)) == 1

    window = TriggerWindow(KEY, at(0), at(3600), {"a": True})
    await store.settle_transition(first.id, save=[window])
    assert [t.id for t in await store.pending_transitions(10)] == [pending[1].id]
    assert await store.get_windows("main", "company.team", "down") == [window]
    # Settled again (a replayed operation): nothing changes, the window stays as it was.
    await store.settle_transition(first.id, delete=[KEY])
    assert await store.get_windows("main", "company.team", "down") == [window]


async def test_windows_are_replaced_deleted_and_purged(store: Store) -> None:
    await store.create_execution(execution("e1"))
    steps = [ExecutionStep("e1", transitions=(transition("e1"),) * 3)]
    await store.apply_steps(steps)
    ids = [t.id for t in await store.pending_transitions(10)]
    assert None not in ids
    first, second, third = (int(i or 0) for i in ids)
    other = WindowKey("main", "company.team", "down", "listen", "other")
    await store.settle_transition(
        first,
        save=[TriggerWindow(KEY, at(0), at(60), {"a": True}), TriggerWindow(other, at(0), at(10))],
    )
    replaced = TriggerWindow(KEY, at(0), at(60), {"a": True, "b": True})
    await store.settle_transition(second, save=[replaced])
    windows = await store.get_windows("main", "company.team", "down")
    assert [w.key.condition_id for w in windows] == ["other", "pair"]
    assert windows[1].results == {"a": True, "b": True}
    assert await store.purge_windows(at(30)) == 1  # "other" ended at 10 s
    await store.settle_transition(third, delete=[KEY, other])
    assert await store.get_windows("main", "company.team", "down") == []
    assert await store.get_windows("main", "company.team", "else") == []


async def test_changed_flows_follow_updates_and_deletions(store: Store, new_flow: NewFlow) -> None:
    first = await store.add_flow_revision(new_flow(flow_id="one"), expected_revision=None)
    await store.add_flow_revision(new_flow(flow_id="two"), expected_revision=None)
    assert {f.id for f in await store.changed_flows(None)} == {"one", "two"}
    later = first.updated + timedelta(microseconds=1)
    deleted = await store.add_flow_revision(
        new_flow(flow_id="one", deleted=True), expected_revision=first.revision
    )
    changed = await store.changed_flows(later)
    assert [(f.id, f.deleted) for f in changed if f.updated >= deleted.updated] == [("one", True)]
    assert all(f.updated >= later for f in changed)
