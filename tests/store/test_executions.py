"""Contract: executions and task runs (create, get, apply_steps, delete), both backends."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from tests.store.factories import at, execution, full_execution, full_task_run, task_run

from lanner.domain.executions import TaskRun
from lanner.domain.labels import Label
from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.states import StateType
from lanner.errors import ConflictError
from lanner.store import (
    DEFAULT_TENANT,
    ExecutionQuery,
    ExecutionStep,
    NewEvent,
    NewJob,
    Store,
)
from lanner.store.sqlalchemy.store import SqlStore

LATER = datetime.now(UTC) + timedelta(days=1)


def ids(task_runs: list[TaskRun]) -> list[str]:
    return [t.id for t in task_runs]


async def events_of(store: Store, execution_id: str) -> list[tuple[str, dict[str, object]]]:
    due = await store.due_events(LATER, 1000)
    return [(e.kind, dict(e.payload)) for e in due if e.execution_id == execution_id]


async def test_create_then_get_round_trips_every_field(store: Store) -> None:
    created = full_execution()

    await store.create_execution(created)
    found = await store.get_execution("acme", "full")

    assert found == created
    assert found is not None
    # Documents keep the order their keys were written in.
    assert list(found.inputs) == ["zeta", "alpha", "mid"]
    assert list(found.inputs["alpha"]) == ["y", "b"]
    assert list(found.outputs["a"]["nested"]) == ["k2", "k1"]
    assert list(found.variables) == ["v2", "v1"]
    dates = [h.date for h in found.state.histories]
    dates += [found.original_created_date, found.schedule_date]
    assert all(d is not None and d.utcoffset() == timedelta(0) for d in dates)
    assert found.state.histories[-1].date == at(2.000001)


async def test_defaults_round_trip(store: Store) -> None:
    created = execution("plain")

    await store.create_execution(created)

    assert await store.get_execution(DEFAULT_TENANT, "plain") == created


async def test_create_adds_the_created_event(store: Store) -> None:
    await store.create_execution(execution("e1"))

    assert await events_of(store, "e1") == [("created", {})]


async def test_a_duplicate_id_conflicts_and_adds_nothing(store: Store) -> None:
    await store.create_execution(execution("dup", flow_id="first"))

    with pytest.raises(ConflictError, match="dup"):
        await store.create_execution(execution("dup", flow_id="second"))

    found = await store.get_execution(DEFAULT_TENANT, "dup")
    assert found is not None
    assert found.flow_id == "first"
    assert await events_of(store, "dup") == [("created", {})]


async def test_get_is_scoped_to_the_tenant_and_skips_deleted(store: Store) -> None:
    await store.create_execution(execution("e1", tenant_id="acme"))
    await store.create_execution(execution("gone", deleted=True))

    assert await store.get_execution(DEFAULT_TENANT, "e1") is None
    assert await store.get_execution("acme", "e1") is not None
    assert await store.get_execution(DEFAULT_TENANT, "gone") is None
    assert await store.get_execution(DEFAULT_TENANT, "missing") is None


async def test_an_ended_execution_comes_with_its_task_runs(store: Store) -> None:
    running = execution("e1", state=StateType.RUNNING)
    await store.create_execution(running)
    await store.apply_steps([ExecutionStep("e1", task_runs=(task_run("t1", running),))])
    assert await store.get_ended_execution(DEFAULT_TENANT, "e1") == (running, None)
    assert await store.get_ended_execution("acme", "e1") is None
    assert await store.get_ended_execution(DEFAULT_TENANT, "missing") is None

    ended = running.with_state(StateType.SUCCESS, at(9))
    await store.apply_steps([ExecutionStep("e1", execution=ended)])
    found = await store.get_ended_execution(DEFAULT_TENANT, "e1")
    assert found is not None
    assert found[0] == ended
    assert found[1] == await store.list_task_runs("e1")
    assert ids(found[1]) == ["t1"]


async def test_task_runs_round_trip_every_field(store: Store) -> None:
    parent = execution("e1")
    await store.create_execution(parent)
    written = full_task_run(parent)

    await store.apply_steps([ExecutionStep("e1", task_runs=(written,))])
    (found,) = await store.list_task_runs("e1")

    assert found == written
    assert list(found.outputs or {}) == ["values", "count", "z", "a"]
    assert all(h.date.utcoffset() == timedelta(0) for h in found.state.histories)


async def test_task_runs_upsert_by_id_and_keep_creation_order(store: Store) -> None:
    parent = execution("e1")
    await store.create_execution(parent)
    first = [task_run(f"t{i}", parent) for i in (3, 1, 2)]
    await store.apply_steps([ExecutionStep("e1", task_runs=tuple(first))])

    updated = first[1].with_state(StateType.RUNNING, at(5))
    updated = replace(updated, outputs={"x": 1}, branch="else")
    await store.apply_steps(
        [ExecutionStep("e1", task_runs=(task_run("t0", parent), updated, task_run("t9", parent)))]
    )
    listed = await store.list_task_runs("e1")

    assert ids(listed) == ["t3", "t1", "t2", "t0", "t9"]
    assert listed[1] == updated


async def test_one_call_applies_the_steps_of_many_executions_in_one_transaction(
    store: Store,
) -> None:
    assert isinstance(store, SqlStore)
    parents = [execution(f"e{i}") for i in range(3)]
    for parent in parents:
        await store.create_execution(parent)
    created_events = {e.execution_id: e.id for e in await store.due_events(LATER, 100)}
    before = store.writer.batches_committed

    await store.apply_steps(
        [
            ExecutionStep(
                p.id,
                execution=p.with_state(StateType.RUNNING, at(1)),
                task_runs=(task_run(f"{p.id}-a", p), task_run(f"{p.id}-b", p)),
                jobs=(NewJob(DEFAULT_TENANT, p.id, f"{p.id}-a", "run", {"task": "a"}),),
                events=(NewEvent(p.id, "timer", {"n": 1}, available_at=at(30)),),
                consumed_events=(created_events[p.id],),
            )
            for p in parents
        ]
    )

    assert store.writer.batches_committed == before + 1
    for p in parents:
        found = await store.get_execution(DEFAULT_TENANT, p.id)
        assert found is not None
        assert found.state.current is StateType.RUNNING
        assert ids(await store.list_task_runs(p.id)) == [f"{p.id}-a", f"{p.id}-b"]
        assert await events_of(store, p.id) == [("timer", {"n": 1})]
    jobs = await store.claim_jobs("w1", datetime.now(UTC), 10, 30)
    assert sorted((j.execution_id, j.task_run_id, j.kind) for j in jobs) == [
        (p.id, f"{p.id}-a", "run") for p in parents
    ]
    assert all(j.payload == {"task": "a"} and j.tenant_id == DEFAULT_TENANT for j in jobs)
    assert len({j.id for j in jobs}) == 3


async def test_a_step_inserts_a_new_execution_with_its_task_runs(store: Store) -> None:
    parent = execution("parent", state=StateType.RUNNING)
    await store.create_execution(parent)
    child = execution("child", parent_id="parent", labels={"from": "subflow"})

    await store.apply_steps(
        [
            ExecutionStep("parent", events=(NewEvent("child", "created"),)),
            ExecutionStep("child", execution=child, task_runs=(task_run("c1", child),)),
        ]
    )

    assert await store.get_execution(DEFAULT_TENANT, "child") == child
    assert ids(await store.list_task_runs("child")) == ["c1"]
    assert await events_of(store, "child") == [("created", {})]
    page = await store.search_executions(ExecutionQuery(labels={"from": "subflow"}))
    assert [e.id for e in page.results] == ["child"]


async def test_a_failing_step_applies_nothing_of_its_call(store: Store) -> None:
    parent = execution("e1")
    await store.create_execution(parent)
    (created,) = await store.due_events(LATER, 10)
    orphan = task_run("orphan", execution("no-such-execution"))

    with pytest.raises(ConflictError, match="cannot apply execution steps"):
        await store.apply_steps(
            [
                ExecutionStep(
                    "e1",
                    execution=parent.with_state(StateType.RUNNING, at(1)),
                    task_runs=(task_run("t1", parent),),
                    jobs=(NewJob(DEFAULT_TENANT, "e1", "t1", "run"),),
                    events=(NewEvent("e1", "timer"),),
                    consumed_events=(created.id,),
                ),
                ExecutionStep("no-such-execution", task_runs=(orphan,)),
            ]
        )

    found = await store.get_execution(DEFAULT_TENANT, "e1")
    assert found == parent
    assert await store.list_task_runs("e1") == []
    assert await store.claim_jobs("w1", datetime.now(UTC), 10, 30) == []
    assert await events_of(store, "e1") == [("created", {})]
    # The same call without the bad step goes through.
    await store.apply_steps([ExecutionStep("e1", task_runs=(task_run("t1", parent),))])
    assert ids(await store.list_task_runs("e1")) == ["t1"]


async def test_a_failing_call_leaves_concurrent_calls_alone(store: Store) -> None:
    for name in ("a", "b"):
        await store.create_execution(execution(name))
    good = ExecutionStep("a", task_runs=(task_run("a1", execution("a")),))
    bad = ExecutionStep("x", task_runs=(task_run("x1", execution("x")),))

    outcomes = await asyncio.gather(
        store.apply_steps([good]), store.apply_steps([bad]), return_exceptions=True
    )

    assert outcomes[0] == []  # no job claimed
    assert isinstance(outcomes[1], ConflictError)
    assert ids(await store.list_task_runs("a")) == ["a1"]


async def test_steps_of_one_execution_in_one_call_apply_in_order(store: Store) -> None:
    parent = execution("e1")
    await store.create_execution(parent)
    running = parent.with_state(StateType.RUNNING, at(1))
    done = running.with_state(StateType.SUCCESS, at(2))
    t1 = task_run("t1", parent)

    await store.apply_steps(
        [
            ExecutionStep("e1", execution=running, task_runs=(t1, task_run("t2", parent))),
            ExecutionStep(
                "e1", execution=done, task_runs=(t1.with_state(StateType.RUNNING, at(3)),)
            ),
        ]
    )

    assert await store.get_execution(DEFAULT_TENANT, "e1") == done
    listed = await store.list_task_runs("e1")
    assert ids(listed) == ["t1", "t2"]
    assert listed[0].state.current is StateType.RUNNING


async def test_a_step_must_name_its_own_execution(store: Store) -> None:
    with pytest.raises(ValueError, match="carries execution"):
        await store.apply_steps([ExecutionStep("e1", execution=execution("e2"))])


async def test_updating_labels_updates_the_label_filter(store: Store) -> None:
    parent = execution("e1", labels={"env": "dev"})
    await store.create_execution(parent)

    relabelled = replace(parent, labels=(Label("env", "prod"),))
    await store.apply_steps([ExecutionStep("e1", execution=relabelled)])

    dev = await store.search_executions(ExecutionQuery(labels={"env": "dev"}))
    prod = await store.search_executions(ExecutionQuery(labels={"env": "prod"}))
    assert (dev.total, [e.id for e in prod.results]) == (0, ["e1"])


async def test_delete_removes_the_execution_and_everything_of_it(store: Store) -> None:
    doomed, kept = execution("doomed", labels={"k": "v"}), execution("kept", labels={"k": "v"})
    for e in (doomed, kept):
        await store.create_execution(e)
        await store.apply_steps(
            [
                ExecutionStep(
                    e.id,
                    task_runs=(task_run(f"{e.id}-t", e),),
                    jobs=(NewJob(DEFAULT_TENANT, e.id, f"{e.id}-t", "run"),),
                )
            ]
        )
        await store.add_logs(
            [
                LogEntry(
                    tenant_id=DEFAULT_TENANT,
                    namespace=e.namespace,
                    execution_id=e.id,
                    level=LogLevel.INFO,
                    message="hello",
                    timestamp=at(1),
                )
            ]
        )

    assert await store.delete_execution(DEFAULT_TENANT, "doomed") is True
    assert await store.delete_execution(DEFAULT_TENANT, "doomed") is False
    assert await store.delete_execution("other-tenant", "kept") is False

    assert await store.get_execution(DEFAULT_TENANT, "doomed") is None
    assert await store.list_task_runs("doomed") == []
    assert await store.list_logs(DEFAULT_TENANT, "doomed") == []
    assert await events_of(store, "doomed") == []
    jobs = await store.claim_jobs("w1", datetime.now(UTC), 10, 30)
    assert [j.execution_id for j in jobs] == ["kept"]
    page = await store.search_executions(ExecutionQuery(labels={"k": "v"}))
    assert [e.id for e in page.results] == ["kept"]
    assert ids(await store.list_task_runs("kept")) == ["kept-t"]
    assert len(await store.list_logs(DEFAULT_TENANT, "kept")) == 1
    # The id is free again, and a new execution with it starts a fresh log sequence.
    await store.create_execution(execution("doomed"))
    await store.add_logs(
        [
            LogEntry(
                tenant_id=DEFAULT_TENANT,
                namespace="ns",
                execution_id="doomed",
                level=LogLevel.INFO,
                message="again",
                timestamp=at(2),
            )
        ]
    )
    assert [entry.seq for entry in await store.list_logs(DEFAULT_TENANT, "doomed")] == [1]


def _line(e_id: str, message: str) -> LogEntry:
    return LogEntry(
        tenant_id=DEFAULT_TENANT,
        namespace="io.lanner.tests",
        execution_id=e_id,
        level=LogLevel.INFO,
        message=message,
        timestamp=at(1),
    )


async def test_log_lines_go_with_the_steps_in_their_transaction(store: Store) -> None:
    assert isinstance(store, SqlStore)
    parent = execution("e-lines")
    await store.create_execution(parent)
    before = store.writer.batches_committed
    await store.apply_steps(
        [ExecutionStep(parent.id, execution=parent.with_state(StateType.RUNNING, at(1)))],
        logs=[_line(parent.id, "first"), _line(parent.id, "second")],
    )
    assert store.writer.batches_committed == before + 1
    lines = await store.list_logs(DEFAULT_TENANT, parent.id)
    assert [line.message for line in lines] == ["first", "second"]
    seqs = [line.seq or 0 for line in lines]
    assert seqs == sorted(seqs)
    assert seqs[0] > 0


async def test_a_failing_step_stores_none_of_its_lines(store: Store) -> None:
    parent = execution("e-lost")
    await store.create_execution(parent)
    orphan = task_run("orphan-2", execution("no-such-execution"))
    with pytest.raises(ConflictError):
        await store.apply_steps(
            [ExecutionStep("no-such-execution", task_runs=(orphan,))],
            logs=[_line(parent.id, "never")],
        )
    assert await store.list_logs(DEFAULT_TENANT, parent.id) == []


async def test_outlines_and_chosen_task_runs_read_in_creation_order(store: Store) -> None:
    parent = execution("e1")
    other = execution("e2")
    await store.create_execution(parent)
    await store.create_execution(other)
    loop = task_run("loop", parent, task_id="each", state=StateType.RUNNING)
    loop = replace(loop, internal={"stale": True, "cursor": [1, 2]})
    first = [loop] + [
        task_run(f"w{i}", parent, task_id="work", parent_task_run_id="loop") for i in (3, 1, 2)
    ]
    await store.apply_steps(
        [
            ExecutionStep("e1", task_runs=tuple(first)),
            ExecutionStep("e2", task_runs=(task_run("x", other),)),
        ]
    )
    failed = first[2].with_state(StateType.FAILED, at(5))
    await store.apply_steps([ExecutionStep("e1", task_runs=(failed,))])

    outlines = await store.list_task_run_outlines("e1")
    chosen = await store.get_task_runs("e1", ["w2", "x", "missing", "w1", "loop", "w2"])

    assert [(o.id, o.parent_task_run_id, o.task_id, o.state) for o in outlines] == [
        ("loop", None, "each", StateType.RUNNING),
        ("w3", "loop", "work", StateType.CREATED),
        ("w1", "loop", "work", StateType.FAILED),
        ("w2", "loop", "work", StateType.CREATED),
    ]
    assert outlines[0].internal == {"stale": True, "cursor": [1, 2]}
    assert outlines[1].internal == {}
    assert ids(chosen) == ["loop", "w1", "w2"]
    assert chosen[1] == failed
    assert await store.get_task_runs("e1", []) == []
    assert await store.list_task_run_outlines("missing") == []
