"""Contract: task metrics are stored in one transaction per call and read back by execution,
task and task run, paged and sorted; names and task ids per flow; deleted per execution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lanner.domain.metrics import MetricEntry
from lanner.errors import IllegalArgumentError
from lanner.store import MetricQuery, Store

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def metric(name: str, value: float, *, task: str = "t1", run: str = "r1", execution: str = "e1",
           kind: str = "counter", offset_s: int = 0, tenant: str = "main") -> MetricEntry:  # fmt: skip
    return MetricEntry(
        tenant_id=tenant, namespace="company.team", flow_id="f", execution_id=execution,
        task_id=task, task_run_id=run, type=kind, name=name, value=value,
        timestamp=T0 + timedelta(seconds=offset_s), tags={"k": name},
    )  # fmt: skip


async def test_metrics_round_trip_with_filters_paging_and_sort(store: Store) -> None:
    await store.add_metrics(
        [
            metric("rows", 5, offset_s=2),
            metric("load", 1500, kind="timer", offset_s=1),
            metric("rows", 2, task="t2", run="r2", offset_s=3),
            metric("rows", 9, execution="e2"),
            metric("rows", 9, tenant="other"),
        ]
    )
    page = await store.search_metrics(MetricQuery(tenant_id="main", execution_id="e1"))
    assert page.total == 3
    assert [(m.name, m.value) for m in page.results] == [("rows", 5), ("load", 1500), ("rows", 2)]
    first = page.results[0]
    assert first.tags == {"k": "rows"}
    assert first.timestamp == T0 + timedelta(seconds=2)
    assert first.type == "counter"
    by_time = await store.search_metrics(
        MetricQuery(tenant_id="main", execution_id="e1", sort=[("timestamp", True)], size=2)
    )
    assert [m.value for m in by_time.results] == [2, 5]
    assert by_time.total == 3
    second_page = await store.search_metrics(
        MetricQuery(tenant_id="main", execution_id="e1", sort=[("timestamp", True)], size=2, page=2)
    )
    assert [m.value for m in second_page.results] == [1500]
    of_task = await store.search_metrics(
        MetricQuery(tenant_id="main", execution_id="e1", task_id="t2")
    )
    assert [m.task_run_id for m in of_task.results] == ["r2"]
    of_run = await store.search_metrics(
        MetricQuery(tenant_id="main", execution_id="e1", task_run_id="r1")
    )
    assert of_run.total == 2


async def test_names_tasks_and_delete(store: Store) -> None:
    await store.add_metrics(
        [
            metric("rows", 1),
            metric("load", 2, task="t2", run="r2"),
            metric("rows", 3, execution="e2"),
        ]
    )
    assert await store.metric_names("main", "company.team", "f") == ["load", "rows"]
    assert await store.metric_names("main", "company.team", "f", "t2") == ["load"]
    assert await store.metric_tasks("main", "company.team", "f") == ["t1", "t2"]
    assert await store.metric_names("other", "company.team", "f") == []
    assert await store.delete_execution_metrics("main", "e1") == 2
    left = await store.search_metrics(MetricQuery(tenant_id="main", execution_id="e2"))
    assert left.total == 1
    assert (await store.search_metrics(MetricQuery(tenant_id="main", execution_id="e1"))).total == 0


async def test_an_unknown_sort_field_is_refused(store: Store) -> None:
    with pytest.raises(IllegalArgumentError) as caught:
        await store.search_metrics(
            MetricQuery(tenant_id="main", execution_id="e1", sort=[("nope", False)])
        )
    assert caught.value.details[0].path == "sort"
