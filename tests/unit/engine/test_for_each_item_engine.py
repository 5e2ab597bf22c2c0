"""ForEachItem in the executor's decisions: its hidden children, and children that end
before the worker's result naming them arrives."""

from __future__ import annotations

from tests.unit.engine.sim import Sim
from tests.unit.engine.test_executor import FLOWS, flow

from lanner.domain.states import StateType
from lanner.engine import events as ev

S = StateType
SOURCE = flow(
    f"  - id: each\n    type: {FLOWS}.ForEachItem\n    items: kestra:///x\n"
    "    namespace: n\n    flowId: child\n    batch:\n      rows: 1\n"
)


def test_children_ending_before_the_result_are_not_lost() -> None:
    sim = Sim(SOURCE, hold={"each_items"})
    sim.drain()
    assert sim.state("each_split") is S.SUCCESS
    items = sim.run_of("each_items")
    for child in ("c1", "c2"):  # both children end before the worker reports them
        sim.send(ev.CHILD_ENDED, {"taskRunId": items.id, "executionId": child, "state": "SUCCESS"})
    sim.drain()
    assert sim.state("each_items") is S.RUNNING
    sim.send(
        ev.TASK_RESULT,
        {"taskRunId": items.id, "attempt": 1, "state": "RUNNING", "childIds": ["c1", "c2"],
         "outputs": {"numberOfBatches": 2}},
    )  # fmt: skip
    assert sim.drain().state.current is S.SUCCESS
    assert sim.run_of("each_items").outputs == {
        "numberOfBatches": 2,
        "iterations": {"CREATED": 0, "RUNNING": 0, "SUCCESS": 2},
    }
    assert [r.task_id for r in sim.runs.values()] == [
        "each",
        "each_split",
        "each_items",
        "each_merge",
    ]


def test_a_failed_child_fails_the_items_and_the_merge_does_not_run() -> None:
    sim = Sim(SOURCE, hold={"each_items"})
    sim.drain()
    items = sim.run_of("each_items")
    sim.send(
        ev.TASK_RESULT,
        {"taskRunId": items.id, "attempt": 1, "state": "RUNNING", "childIds": ["c1", "c2"]},
    )
    sim.send(ev.CHILD_ENDED, {"taskRunId": items.id, "executionId": "c1", "state": "FAILED"})
    sim.send(ev.CHILD_ENDED, {"taskRunId": items.id, "executionId": "c2", "state": "SUCCESS"})
    assert sim.drain().state.current is S.FAILED
    assert sim.state("each_items") is S.FAILED
    assert not sim.has_run("each_merge")
