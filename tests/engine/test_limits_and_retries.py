"""Flow concurrency limits and new-execution retries, end to end on the real store (both
backends)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from tests.engine.conftest import Harness

from lanner.domain.executions import Execution, State, new_id
from lanner.domain.states import StateType
from lanner.engine.feeds import WORK_TOPIC
from lanner.engine.retries import retry_execution_id

S = StateType
FLOWS = "io.kestra.plugin.core.flow"


def limited(behavior: str, flow_id: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: company.team\n"
        f"concurrency:\n  limit: 1\n  behavior: {behavior}\n"
        f"tasks:\n  - id: nap\n    type: {FLOWS}.Sleep\n    duration: PT0.3S\n"
    )


def dates(execution: Execution, state: StateType) -> list[float]:
    return [h.date.timestamp() for h in execution.state.histories if h.state is state]


async def test_queue_runs_one_at_a_time_in_creation_order(harness: Harness) -> None:
    source = limited("QUEUE", "queued")
    first = await harness.start(source)
    await harness.wait_for(first, S.RUNNING)
    second = await harness.start(source)
    third = await harness.start(source)
    await harness.wait_for(second, S.QUEUED)
    await harness.wait_for(third, S.QUEUED)
    done = [await harness.wait_for(i) for i in (first, second, third)]
    assert [e.state.current for e in done] == [S.SUCCESS] * 3
    assert [h.state for h in done[1].state.histories] == [
        S.CREATED, S.QUEUED, S.RUNNING, S.SUCCESS,
    ]  # fmt: skip
    # One at a time: each starts once the previous one ended, in creation order.
    for earlier, later in itertools.pairwise(done):
        assert dates(later, S.RUNNING)[0] >= dates(earlier, S.SUCCESS)[0]


async def test_cancel_and_fail_end_the_extra_execution(harness: Harness) -> None:
    for behavior, state in (("CANCEL", S.CANCELLED), ("FAIL", S.FAILED)):
        source = limited(behavior, f"limited_{behavior.lower()}")
        first = await harness.start(source)
        await harness.wait_for(first, S.RUNNING)
        extra = await harness.wait_for(await harness.start(source))
        assert [h.state for h in extra.state.histories] == [S.CREATED, state]
        assert await harness.runs(extra.id) == {}
        assert (await harness.wait_for(first)).state.current is S.SUCCESS


async def test_many_created_at_once_never_exceed_the_limit(harness: Harness) -> None:
    source = limited("QUEUE", "burst").replace("limit: 1", "limit: 2")
    revision = await harness.deploy(source)
    made = [
        Execution(
            id=new_id(), tenant_id="main", namespace="company.team", flow_id="burst",
            flow_revision=revision, state=State.of(S.CREATED, datetime.now(UTC)),
        )
        for _ in range(6)
    ]  # fmt: skip
    await asyncio.gather(*(harness.store.create_execution(e) for e in made))
    harness.feed.publish(WORK_TOPIC)
    ids = [e.id for e in made]
    done = [await harness.wait_for(i) for i in ids]
    assert all(e.state.current is S.SUCCESS for e in done)
    spans = [(dates(e, S.RUNNING)[0], dates(e, S.SUCCESS)[0]) for e in done]
    for start, _ in spans:
        overlapping = sum(1 for s, end in spans if s <= start < end)
        assert overlapping <= 2


async def test_create_new_execution_retry(harness: Harness) -> None:
    source = (
        "id: retried\nnamespace: company.team\n"
        "inputs:\n  - id: who\n    type: STRING\n"
        "tasks:\n"
        "  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n"
        "    retry:\n      type: constant\n      interval: PT0.2S\n      maxAttempt: 2\n"
        "      behavior: CREATE_NEW_EXECUTION\n"
    )
    original_id = await harness.start(source, {"who": "ada"})
    original = await harness.wait_for(original_id)
    assert original.state.current is S.RETRIED  # Kestra: RETRIED, RETRIED…, then FAILED
    assert (await harness.runs(original_id))["boom"].state.current is S.RETRIED
    retry_id = retry_execution_id(original)
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while await harness.store.get_execution("main", retry_id) is None:
        assert loop.time() < end, "the retry execution was never created"
        await asyncio.sleep(0.05)
    retry = await harness.wait_for(retry_id)
    assert retry.state.current is S.FAILED
    assert retry.attempt_number == 2
    assert retry.inputs == {"who": "ada"}
    assert retry.flow_revision == original.flow_revision
    assert retry.original_id == original_id
    # maxAttempt 2: the second attempt fails for good, no third execution.
    assert (await harness.runs(retry_id))["boom"].state.current is S.FAILED
    await asyncio.sleep(0.5)
    assert await harness.store.get_execution("main", retry_execution_id(retry)) is None
