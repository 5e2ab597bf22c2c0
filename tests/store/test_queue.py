"""Contract: the executor's events and the workers' jobs (the database is the queue)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tests.store.factories import execution, task_run

from lanner.domain.states import StateType
from lanner.store import (
    DEFAULT_TENANT,
    ExecutionStep,
    JobClaim,
    JobGoneError,
    NewEvent,
    NewJob,
    Store,
    open_store,
)

LEASE_S = 30.0


def now() -> datetime:
    return datetime.now(UTC)


async def seed(store: Store, *execution_ids: str) -> None:
    """Executions whose ``created`` events are already consumed."""
    for execution_id in execution_ids:
        await store.create_execution(execution(execution_id))
    created = await store.due_events(now(), 1000)
    await store.apply_steps(
        [ExecutionStep(e.execution_id, consumed_events=(e.id,)) for e in created]
    )


async def queue_jobs(store: Store, count: int, *, available_at: datetime | None = None) -> None:
    await store.apply_steps(
        [
            ExecutionStep(
                "e1",
                jobs=tuple(
                    NewJob(DEFAULT_TENANT, "e1", f"t{i}", "run", {"i": i}, available_at)
                    for i in range(count)
                ),
            )
        ]
    )


# --- events --------------------------------------------------------------------------------


async def test_events_come_when_due_oldest_first(store: Store) -> None:
    await seed(store, "e1", "e2")
    t = now()
    await store.add_events(
        [
            NewEvent("e1", "kill", {"by": "api"}),
            NewEvent("e2", "timer", available_at=t + timedelta(hours=1)),
            NewEvent("e2", "resume", {"inputs": {"b": 2, "a": 1}}),
        ]
    )

    due = await store.due_events(now() + timedelta(seconds=1), 10)
    later = await store.due_events(t + timedelta(hours=1), 10)

    assert [(e.execution_id, e.kind, e.payload) for e in due] == [
        ("e1", "kill", {"by": "api"}),
        ("e2", "resume", {"inputs": {"b": 2, "a": 1}}),
    ]
    assert list(due[1].payload["inputs"]) == ["b", "a"]
    assert due[0].id < due[1].id
    assert all(e.available_at.utcoffset() == timedelta(0) for e in due)
    assert [e.kind for e in later] == ["kill", "timer", "resume"]
    assert len(await store.due_events(t + timedelta(hours=1), 2)) == 2


async def test_events_of_older_executions_come_first(store: Store) -> None:
    t = now()
    await store.create_execution(execution("young", start=t - timedelta(minutes=1)))
    await store.create_execution(execution("old", start=t - timedelta(minutes=5)))
    await store.apply_steps(
        [
            ExecutionStep(e.execution_id, consumed_events=(e.id,))
            for e in await store.due_events(now(), 10)
        ]
    )
    await store.add_events([NewEvent("young", "a"), NewEvent("old", "b")])
    await store.add_events([NewEvent("young", "c"), NewEvent("old", "d")])

    due = await store.due_events(now(), 10)
    first = await store.due_events(now(), 3)

    assert [(e.execution_id, e.kind) for e in due] == [
        ("old", "b"), ("old", "d"), ("young", "a"), ("young", "c"),
    ]  # fmt: skip
    assert [e.kind for e in first] == ["b", "d", "a"]


async def test_next_event_time_is_the_earliest_pending_event(store: Store) -> None:
    await seed(store, "e1")
    assert await store.next_event_time() is None
    t = now()

    await store.add_events(
        [
            NewEvent("e1", "timer", available_at=t + timedelta(minutes=5)),
            NewEvent("e1", "timer", available_at=t + timedelta(minutes=1)),
        ]
    )

    assert await store.next_event_time() == t + timedelta(minutes=1)


async def test_consumed_events_are_gone(store: Store) -> None:
    await seed(store, "e1")
    await store.add_events([NewEvent("e1", "a"), NewEvent("e1", "b"), NewEvent("e1", "c")])
    a, _, c = await store.due_events(now(), 10)

    await store.apply_steps([ExecutionStep("e1", consumed_events=(a.id, c.id, 999_999))])

    assert [e.kind for e in await store.due_events(now(), 10)] == ["b"]


async def test_events_for_unknown_executions_are_dropped(store: Store) -> None:
    await seed(store, "e1")

    await store.add_events([NewEvent("nobody", "kill"), NewEvent("e1", "kill")])

    assert [e.execution_id for e in await store.due_events(now(), 10)] == ["e1"]


# --- jobs ----------------------------------------------------------------------------------


async def test_claim_takes_due_queued_jobs_once(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 3)
    await queue_jobs(store, 1, available_at=now() + timedelta(hours=1))

    first = await store.claim_jobs("w1", now(), 2, LEASE_S)
    second = await store.claim_jobs("w2", now(), 10, LEASE_S)
    third = await store.claim_jobs("w3", now(), 10, LEASE_S)

    assert len(first) == 2
    assert len(second) == 1
    assert third == []
    claimed = first + second
    assert sorted(j.task_run_id for j in claimed) == ["t0", "t1", "t2"]
    assert all(j.attempts == 1 and j.tenant_id == DEFAULT_TENANT for j in claimed)
    assert {j.worker_id for j in first} == {"w1"}
    assert {j.payload["i"] for j in claimed} == {0, 1, 2}
    assert [
        j.task_run_id for j in await store.claim_jobs("w4", now() + timedelta(hours=2), 9, 1)
    ] == ["t0"]


async def test_claims_hand_out_the_jobs_of_older_executions_first(store: Store) -> None:
    t = now()
    await store.create_execution(execution("young", start=t - timedelta(minutes=1)))
    await store.create_execution(execution("old", start=t - timedelta(minutes=5)))
    created = await store.due_events(now(), 10)
    await store.apply_steps(
        [ExecutionStep(e.execution_id, consumed_events=(e.id,)) for e in created]
    )
    # The young execution's job is queued first, the old one's later (its next task).
    for execution_id in ("young", "old"):
        job = NewJob(DEFAULT_TENANT, execution_id, f"{execution_id}-t", "run")
        await store.apply_steps([ExecutionStep(execution_id, jobs=(job,))])
    later = NewJob(DEFAULT_TENANT, "old", "old-later", "run", available_at=t + timedelta(hours=1))
    await store.apply_steps([ExecutionStep("old", jobs=(later,))])

    first = await store.claim_jobs("w1", now(), 1, LEASE_S)
    second = await store.claim_jobs("w1", now(), 1, LEASE_S)

    assert [j.task_run_id for j in first + second] == ["old-t", "young-t"]
    assert await store.claim_jobs("w1", now(), 5, LEASE_S) == []  # a delayed job keeps its time


async def test_two_stores_claiming_concurrently_never_share_a_job(
    store: Store, database_url: str
) -> None:
    await seed(store, "e1")
    count = 60
    await queue_jobs(store, count)
    other = open_store(database_url)
    await other.start()
    try:
        batches = await asyncio.gather(
            *(
                claimer.claim_jobs(f"w{i}", now(), 3, LEASE_S)
                for i in range(20)
                for claimer in (store, other)
            )
        )
    finally:
        await other.close()

    claimed = [job.id for batch in batches for job in batch]
    assert len(claimed) == len(set(claimed)) == count


async def test_expired_leases_are_requeued(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 1)
    t = now()
    (job,) = await store.claim_jobs("w1", t, 10, LEASE_S)

    assert await store.requeue_jobs(t + timedelta(seconds=LEASE_S - 1)) == 0
    assert await store.claim_jobs("w2", t, 10, LEASE_S) == []
    assert await store.requeue_jobs(t + timedelta(seconds=LEASE_S + 1)) == 1
    (again,) = await store.claim_jobs("w2", t + timedelta(seconds=LEASE_S + 1), 10, LEASE_S)

    assert (again.id, again.attempts, again.worker_id) == (job.id, 2, "w2")


async def test_heartbeats_extend_the_lease(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 2)
    t = now()
    await store.claim_jobs("w1", t, 1, 10)
    await store.claim_jobs("w2", t, 1, 10)

    await store.heartbeat_jobs("w1", t + timedelta(seconds=8), 10)

    # w2's lease ran out at t+10; w1's runs to t+18.
    assert await store.requeue_jobs(t + timedelta(seconds=15)) == 1
    assert await store.requeue_jobs(t + timedelta(seconds=19)) == 1


async def test_a_restarting_worker_hands_its_jobs_back(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 3)
    await store.claim_jobs("w1", now(), 2, LEASE_S)
    await store.claim_jobs("w2", now(), 1, LEASE_S)

    assert await store.requeue_jobs(now(), worker_id="w1") == 2
    reclaimed = await store.claim_jobs("w3", now(), 10, LEASE_S)

    assert len(reclaimed) == 2
    assert all(j.attempts == 2 for j in reclaimed)


async def test_complete_deletes_the_job_and_adds_its_event(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 2)
    j1, j2 = await store.claim_jobs("w1", now(), 10, LEASE_S)

    await store.complete_jobs([(j1.id, NewEvent("e1", "task_result", {"ok": True}))])

    assert [(e.kind, e.payload) for e in await store.due_events(now(), 10)] == [
        ("task_result", {"ok": True})
    ]
    # Only j2 is left: its lease expiry requeues one job, not two.
    assert await store.requeue_jobs(now() + timedelta(seconds=LEASE_S + 1)) == 1
    assert [j.id for j in await store.claim_jobs("w2", now(), 10, LEASE_S)] == [j2.id]


async def test_a_job_ends_once(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 2)
    j1, j2 = await store.claim_jobs("w1", now(), 10, LEASE_S)
    await store.complete_jobs([(j1.id, NewEvent("e1", "task_result", {"by": "first"}))])

    # A second report of j1 (a worker whose lease had expired) adds nothing; j2's does.
    await store.complete_jobs(
        [
            (j1.id, NewEvent("e1", "task_result", {"by": "late"})),
            (j2.id, NewEvent("e1", "task_result", {"by": "j2"})),
        ]
    )

    payloads = [e.payload for e in await store.due_events(now(), 10)]
    assert payloads == [{"by": "first"}, {"by": "j2"}]


async def test_a_result_that_cannot_be_stored_leaves_its_job_running(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 1)
    (job,) = await store.claim_jobs("w1", now(), 10, LEASE_S)

    with pytest.raises(TypeError):
        await store.complete_jobs([(job.id, NewEvent("e1", "task_result", {"bad": object()}))])

    assert await store.due_events(now(), 10) == []
    assert await store.requeue_jobs(now(), worker_id="w1") == 1


# --- in-process hand-over: jobs claimed as they are written, results ending jobs -----------


async def test_apply_steps_can_insert_jobs_claimed_for_a_worker(store: Store) -> None:
    await seed(store, "e1")
    later = now() + timedelta(hours=1)
    steps = [
        ExecutionStep(
            "e1",
            jobs=(
                NewJob(DEFAULT_TENANT, "e1", "t0", "run", {"i": 0}),
                NewJob(DEFAULT_TENANT, "e1", "t1", "run", {"i": 1}, later),  # not due: queued
                NewJob(DEFAULT_TENANT, "e1", "t2", "run", {"i": 2}),
                NewJob(DEFAULT_TENANT, "e1", "t3", "run", {"i": 3}),  # over the limit: queued
            ),
        )
    ]

    claimed = await store.apply_steps(steps, claim=JobClaim("w1", 2, LEASE_S))

    assert [(j.task_run_id, j.worker_id, j.attempts) for j in claimed] == [
        ("t0", "w1", 1),
        ("t2", "w1", 1),
    ]
    assert [j.task_run_id for j in await store.claim_jobs("w2", now(), 10, LEASE_S)] == ["t3"]
    # The claimed ones are w1's: a restart of w1 hands them back.
    assert await store.requeue_jobs(now(), worker_id="w1") == 2


async def test_a_step_ends_the_jobs_whose_results_it_handled(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 2)
    j1, _j2 = await store.claim_jobs("w1", now(), 10, LEASE_S)

    await store.apply_steps([ExecutionStep("e1", finished_jobs=(j1.id,))])

    assert await store.due_events(now(), 10) == []  # no event row: the step took the result
    assert await store.requeue_jobs(now(), worker_id="w1") == 1  # only j2 is left


async def test_a_step_ending_a_job_already_gone_writes_nothing(store: Store) -> None:
    await seed(store, "e1", "e2")
    await queue_jobs(store, 1)
    (job,) = await store.claim_jobs("w1", now(), 10, LEASE_S)
    await store.complete_jobs([(job.id, NewEvent("e1", "task_result", {"by": "other"}))])
    moved = execution("e2").with_state(StateType.RUNNING, now())

    with pytest.raises(JobGoneError):
        await store.apply_steps(
            [ExecutionStep("e1", finished_jobs=(job.id,)), ExecutionStep("e2", execution=moved)]
        )

    stored = await store.get_execution(DEFAULT_TENANT, "e2")
    assert stored is not None
    assert stored.state.current is StateType.CREATED


async def test_load_executions_reads_executions_with_their_task_runs(store: Store) -> None:
    await seed(store, "e1", "e2")
    e1 = execution("e1")
    await store.apply_steps(
        [ExecutionStep("e1", task_runs=(task_run("r1", e1), task_run("r2", e1)))]
    )

    loaded = await store.load_executions(
        {"e1": DEFAULT_TENANT, "e2": DEFAULT_TENANT, "absent": DEFAULT_TENANT, "e3": "other"}
    )

    assert sorted(loaded) == ["e1", "e2"]
    assert [r.id for r in loaded["e1"][1]] == ["r1", "r2"]
    assert loaded["e2"][1] == []
    assert await store.load_executions({"e1": "other-tenant"}) == {}


# --- lease expiry ----------------------------------------------------------------------------


async def test_an_expired_run_job_ends_with_a_lost_event(store: Store) -> None:
    await seed(store, "e1")
    t = now()
    ago = [t - timedelta(seconds=3 - i) for i in range(3)]  # claimed in this order
    await store.apply_steps(
        [
            ExecutionStep(
                "e1",
                jobs=(
                    NewJob(
                        DEFAULT_TENANT, "e1", "t0", "run", {"taskId": "a", "attempt": 1}, ago[0]
                    ),
                    NewJob(
                        DEFAULT_TENANT, "e1", "t1", "resolve", {"taskId": "b", "attempt": 1}, ago[1]
                    ),
                    NewJob(
                        DEFAULT_TENANT, "e1", "t2", "run", {"taskId": "c", "attempt": 1}, ago[2]
                    ),
                ),
            )
        ]
    )
    await store.claim_jobs("w1", t, 2, 10)  # t0 and t1
    (spared,) = await store.claim_jobs("w2", t, 1, 10)  # t2: the caller's own worker

    early = await store.expire_jobs(t + timedelta(seconds=9), "w2")
    expired = await store.expire_jobs(t + timedelta(seconds=11), "w2")

    assert (early.lost, early.requeued) == (0, 0)
    assert early.next_expiry == t + timedelta(seconds=10)
    assert (expired.lost, expired.requeued, expired.next_expiry) == (1, 1, None)
    (lost,) = await store.due_events(now() + timedelta(seconds=60), 10)
    assert lost.kind == "job_lost"
    assert lost.payload == {
        "taskRunId": "t0",
        "attempt": 1,
        "workerId": "w1",
        "jobPayload": {"taskId": "a", "attempt": 1},
    }
    # The resolve job is claimable again; the spared one still runs for w2.
    (again,) = await store.claim_jobs("w3", t + timedelta(seconds=11), 10, 10)
    assert again.task_run_id == "t1"
    assert (await store.expire_jobs(t + timedelta(seconds=30))).lost == 1  # w2's, unspared
    assert spared.task_run_id == "t2"


async def test_heartbeats_by_id_leave_a_forgotten_claim_to_expire(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 2)
    t = now()
    kept, forgotten = await store.claim_jobs("w1", t, 2, 10)

    await store.heartbeat_jobs("w1", t + timedelta(seconds=8), 10, job_ids=[kept.id])

    expired = await store.expire_jobs(t + timedelta(seconds=11))
    assert expired.lost == 1
    assert expired.next_expiry == t + timedelta(seconds=18)
    (event,) = await store.due_events(now() + timedelta(seconds=60), 10)
    assert event.payload["taskRunId"] == forgotten.task_run_id


async def test_a_worker_hands_back_the_claims_it_lost_track_of(store: Store) -> None:
    await seed(store, "e1")
    await queue_jobs(store, 3)
    running, *lost = await store.claim_jobs("w1", now(), 3, LEASE_S)

    assert await store.requeue_jobs(now(), "w1", keep=[running.id]) == 2
    again = await store.claim_jobs("w2", now(), 10, LEASE_S)
    assert sorted(j.id for j in again) == sorted(j.id for j in lost)
