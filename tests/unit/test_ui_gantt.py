"""The execution page's Gantt chart: tree order, bars scaled to the execution, a bounded number
of rows with the rest counted per task and state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lanner.domain.executions import Execution, State, TaskRun
from lanner.domain.states import StateType
from lanner.ui.pages import gantt

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(run_id: str, task_id: str, begin_s: float, end_s: float, parent: str | None = None,
        state: StateType = StateType.SUCCESS) -> TaskRun:  # fmt: skip
    begin = T0 + timedelta(seconds=begin_s)
    return TaskRun(
        id=run_id, tenant_id="main", execution_id="e", namespace="n", flow_id="f",
        task_id=task_id, parent_task_run_id=parent,
        state=State.of(StateType.RUNNING, begin).to(state, T0 + timedelta(seconds=end_s)),
    )  # fmt: skip


EXECUTION = Execution(
    id="e", tenant_id="main", namespace="n", flow_id="f", flow_revision=1,
    state=State.of(StateType.RUNNING, T0).to(StateType.SUCCESS, T0 + timedelta(seconds=100)),
)  # fmt: skip


def test_bars_follow_the_tree_and_scale_to_the_execution() -> None:
    runs = [
        run("a", "first", 0, 10),
        run("b", "loop", 10, 90),
        run("c", "second", 90, 100),
        run("b1", "inner", 20, 50, parent="b"),
        run("gone", "orphan", 60, 70, parent="superseded"),
    ]
    chart = gantt(EXECUTION, runs, T0)
    assert [(bar.run.id, bar.depth) for bar in chart.bars] == [
        ("a", 0), ("b", 0), ("b1", 1), ("c", 0), ("gone", 0),
    ]  # fmt: skip
    inner = chart.bars[2]
    assert (inner.offset, inner.width) == (20.0, 30.0)
    assert chart.rest == []
    assert chart.total == 5


def test_rows_past_the_bound_are_counted_per_task_and_state() -> None:
    runs = [run("p", "each", 0, 100)]
    runs += [
        run(f"w{i}", "work", i * 0.1, i * 0.1 + 0.1, parent="p",
            state=StateType.FAILED if i % 10 == 0 else StateType.SUCCESS)
        for i in range(499)
    ]  # fmt: skip
    chart = gantt(EXECUTION, runs, T0, rows=300)
    assert len(chart.bars) == 300
    assert chart.total == 500
    assert chart.rest == [
        {"task_id": "work", "total": 200, "states": [("FAILED", 20), ("SUCCESS", 180)]}
    ]


def test_counts_past_the_bound_are_listed_in_tree_order_not_creation_order() -> None:
    runs = [run("p1", "each1", 0, 100), run("p2", "each2", 0, 100)]
    runs += [run(f"c{i}", "w2", i, i + 1, parent="p2") for i in range(3)]
    runs += [run(f"d{i}", "w1", i, i + 1, parent="p1", state=StateType.FAILED) for i in range(3)]
    chart = gantt(EXECUTION, runs, T0, rows=2)
    assert [bar.run.id for bar in chart.bars] == ["p1", "d0"]
    assert chart.rest == [
        {"task_id": "w1", "total": 2, "states": [("FAILED", 2)]},
        {"task_id": "each2", "total": 1, "states": [("SUCCESS", 1)]},
        {"task_id": "w2", "total": 3, "states": [("SUCCESS", 3)]},
    ]
    assert chart.total == 8
