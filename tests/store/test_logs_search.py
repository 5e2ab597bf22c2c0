"""Contract: searching, paging, deleting and purging log lines; reading a follower's pages."""

from __future__ import annotations

from dataclasses import replace

from tests.store.factories import at

from lanner.domain.logs import LogEntry, LogLevel
from lanner.store import DEFAULT_TENANT, LogQuery, Store

L = LogLevel


def line(
    message: str,
    *,
    execution_id: str | None = "e1",
    namespace: str = "company.team",
    flow_id: str = "hello",
    level: LogLevel = L.INFO,
    seconds: float = 0,
    task_id: str = "t",
    tenant_id: str = DEFAULT_TENANT,
    trigger_id: str | None = None,
) -> LogEntry:
    return LogEntry(
        tenant_id=tenant_id,
        namespace=namespace,
        flow_id=flow_id,
        execution_id=execution_id,
        task_run_id=f"run-{task_id}" if execution_id else None,
        task_id=task_id if execution_id else None,
        attempt_number=1 if execution_id else None,
        trigger_id=trigger_id,
        level=level,
        message=message,
        timestamp=at(seconds),
    )


async def seed(store: Store) -> None:
    await store.add_logs(
        [
            line("boot", level=L.DEBUG, seconds=0),
            line("Hello World", seconds=1),
            line("disk almost full", level=L.WARN, seconds=2),
            line("sub flow says hi", namespace="company.team.sub", execution_id="e2", seconds=3),
            line("other flow", flow_id="other", execution_id="e3", level=L.ERROR, seconds=4),
            line("elsewhere", namespace="company.teams", execution_id="e4", seconds=5),
            line("acme's", tenant_id="acme", execution_id="e5", seconds=6),
            line("polled", execution_id=None, trigger_id="every-minute", seconds=7),
        ]
    )


async def found(store: Store, **criteria: object) -> list[str]:
    page = await store.search_logs(LogQuery(size=100, **criteria))  # type: ignore[arg-type]
    return [entry.message for entry in page.results]


async def test_search_filters(store: Store) -> None:
    await seed(store)

    assert await found(store, namespace="company.team", sort=[("timestamp", False)]) == [
        "boot",
        "Hello World",
        "disk almost full",
        "sub flow says hi",
        "other flow",
        "polled",
    ]
    assert await found(store, namespace="company.team.sub") == ["sub flow says hi"]
    assert await found(store, flow_id="other") == ["other flow"]
    assert await found(store, execution_id="e1", min_level=L.WARN) == ["disk almost full"]
    assert await found(store, min_level=L.ERROR) == ["other flow"]
    assert await found(store, trigger_id="every-minute") == ["polled"]
    assert await found(store, q="hello") == ["Hello World"]
    assert await found(store, start_date=at(2), end_date=at(4)) == [
        "sub flow says hi",
        "disk almost full",
    ]
    assert await found(store, tenant_id="acme") == ["acme's"]


async def test_search_pages_newest_first_with_a_total(store: Store) -> None:
    await store.add_logs([line(f"line {i}", seconds=i) for i in range(25)])

    first = await store.search_logs(LogQuery(page=1, size=10))
    third = await store.search_logs(LogQuery(page=3, size=10))
    oldest_first = await store.search_logs(LogQuery(size=3, sort=[("timestamp", False)]))

    assert first.total == third.total == 25
    assert [e.message for e in first.results] == [f"line {i}" for i in range(24, 14, -1)]
    assert [e.message for e in third.results] == [f"line {i}" for i in range(4, -1, -1)]
    assert [e.message for e in oldest_first.results] == ["line 0", "line 1", "line 2"]


async def test_q_matches_literally(store: Store) -> None:
    await store.add_logs([line("100% done"), line("1000 done")])

    assert await found(store, q="0%") == ["100% done"]
    assert await found(store, q="_") == []


async def test_list_pages_with_a_limit_after_a_position(store: Store) -> None:
    await store.add_logs([line(str(i)) for i in range(10)])

    first = await store.list_logs(DEFAULT_TENANT, "e1", limit=4)
    second = await store.list_logs(DEFAULT_TENANT, "e1", after_seq=first[-1].seq, limit=4)

    assert [e.message for e in first] == ["0", "1", "2", "3"]
    assert [e.message for e in second] == ["4", "5", "6", "7"]


async def test_delete_an_executions_lines_with_filters(store: Store) -> None:
    await seed(store)
    await store.add_logs([replace(line("from b"), task_id="b", task_run_id="run-b")])

    assert await store.delete_logs(DEFAULT_TENANT, "e1", task_id="b") == 1
    assert await store.delete_logs(DEFAULT_TENANT, "e1", min_level=L.WARN) == 1
    remaining = await store.list_logs(DEFAULT_TENANT, "e1")
    assert [e.message for e in remaining] == ["boot", "Hello World"]

    assert await store.delete_logs(DEFAULT_TENANT, "e1") == 2
    assert await store.list_logs(DEFAULT_TENANT, "e1") == []
    assert await found(store, execution_id="e2") == ["sub flow says hi"]


async def test_numbers_go_on_after_a_delete(store: Store) -> None:
    await store.add_logs([line("one"), line("two")])
    await store.delete_logs(DEFAULT_TENANT, "e1")

    await store.add_logs([line("three")])

    assert [e.seq for e in await store.list_logs(DEFAULT_TENANT, "e1")] == [3]


async def test_delete_a_flows_lines(store: Store) -> None:
    await seed(store)
    await store.add_logs([line("other trigger", execution_id=None, trigger_id="daily")])

    assert await store.delete_flow_logs(DEFAULT_TENANT, "company.team", "hello", trigger_id="daily")
    assert await found(store, trigger_id="daily") == []
    assert await found(store, trigger_id="every-minute") == ["polled"]

    deleted = await store.delete_flow_logs(DEFAULT_TENANT, "company.team", "hello")
    assert deleted == 4  # boot, Hello World, disk almost full, polled
    # Only that namespace: the flow of the same id in a child namespace keeps its lines.
    assert await found(store, namespace="company.team", flow_id="hello") == ["sub flow says hi"]
    assert await found(store, flow_id="other") == ["other flow"]


async def test_purge_deletes_older_lines_in_chunks(store: Store, monkeypatch: object) -> None:
    import lanner.store.sqlalchemy.logs as sql_logs

    setattr(sql_logs, "PURGE_CHUNK_ROWS", 3)  # noqa: B010 - force several chunks
    try:
        await store.add_logs([line(f"old {i}", seconds=i) for i in range(8)])
        await store.add_logs([line("new", seconds=100)])

        assert await store.purge_logs(at(50)) == 8
    finally:
        setattr(sql_logs, "PURGE_CHUNK_ROWS", 10_000)  # noqa: B010

    assert [e.message for e in await store.list_logs(DEFAULT_TENANT, "e1")] == ["new"]


async def test_purge_by_namespace_flow_and_level(store: Store) -> None:
    await seed(store)

    assert await store.purge_logs(at(50), levels=[L.DEBUG, L.WARN]) == 2
    assert await store.purge_logs(at(50), namespace="company.team", flow_id="other") == 1
    assert await store.purge_logs(at(50), tenant_id="acme") == 1
    assert await store.purge_logs(at(2)) == 1  # Hello World, at 1 s

    assert await found(store, sort=[("timestamp", False)]) == [
        "sub flow says hi",
        "elsewhere",
        "polled",
    ]
