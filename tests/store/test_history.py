"""Contract: history at scale on both backends: totals past the count bound, indexed substring
search of log messages (same answers as a scan), incremental purge of old executions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path, PurePosixPath

import pytest
from sqlalchemy import text
from tests.store.factories import T0, at, execution, task_run

from lanner.domain.logs import LogEntry, LogLevel
from lanner.domain.states import StateType
from lanner.engine.retention import HistoryRetention
from lanner.storage.local import LocalStorage
from lanner.storage.uris import execution_prefix
from lanner.store import (
    DEFAULT_TENANT,
    ExecutionQuery,
    ExecutionStep,
    FlowQuery,
    LogQuery,
    Store,
    open_store,
)
from lanner.store.sqlalchemy.store import SqlStore

BOUND = 5


@pytest.fixture
async def bounded(database_url: str) -> AsyncIterator[Store]:
    """A store whose totals are exact up to :data:`BOUND` matches only."""
    started = open_store(database_url, count_bound=BOUND)
    await started.start()
    try:
        yield started
    finally:
        await started.close()


def log_line(message: str, seconds: float = 0, execution_id: str = "e1") -> LogEntry:
    return LogEntry(
        tenant_id=DEFAULT_TENANT,
        namespace="company.team",
        flow_id="hello",
        execution_id=execution_id,
        level=LogLevel.INFO,
        message=message,
        timestamp=at(seconds),
    )


# --- totals past the bound ---------------------------------------------------------------------


async def test_totals_are_exact_up_to_the_bound(bounded: Store) -> None:
    for number in range(BOUND):
        await bounded.create_execution(execution(f"x{number}", start=at(number)))

    page = await bounded.search_executions(ExecutionQuery(size=2))

    assert page.total == BOUND
    assert [e.id for e in page.results] == ["x4", "x3"]


async def test_pages_past_the_bound_read_the_right_rows_with_a_total_beyond_it(
    bounded: Store,
) -> None:
    for number in range(12):
        await bounded.create_execution(execution(f"x{number:02d}", start=at(number)))
    await bounded.create_execution(execution("other", namespace="elsewhere", start=at(50)))

    first = await bounded.search_executions(ExecutionQuery(namespace="company", size=3))
    last = await bounded.search_executions(ExecutionQuery(namespace="company", size=3, page=4))
    beyond = await bounded.search_executions(ExecutionQuery(namespace="company", size=3, page=5))
    few = await bounded.search_executions(ExecutionQuery(namespace="elsewhere", size=3))

    assert [e.id for e in first.results] == ["x11", "x10", "x09"]
    assert first.total > BOUND  # an estimate: never the exact 12 promised, never under the bound
    assert [e.id for e in last.results] == ["x02", "x01", "x00"]
    assert last.total >= 12  # never below the rows the pages so far showed
    assert beyond.results == []
    assert few.total == 1


async def test_log_and_flow_totals_past_the_bound(bounded: Store, new_flow) -> None:  # type: ignore[no-untyped-def]
    await bounded.add_logs([log_line(f"line {n}", seconds=n) for n in range(9)])
    for number in range(7):
        await bounded.add_flow_revision(new_flow(flow_id=f"f{number}"), expected_revision=None)

    logs = await bounded.search_logs(LogQuery(size=4, page=2))
    flows = await bounded.search_flows(FlowQuery(size=4, page=2))
    exact = await bounded.search_logs(LogQuery(q="line 3"))

    assert [entry.message for entry in logs.results] == [f"line {n}" for n in (4, 3, 2, 1)]
    assert logs.total >= 9
    assert [flow.id for flow in flows.results] == ["f4", "f5", "f6"]
    assert flows.total >= 7
    assert exact.total == 1


# --- substring search of messages --------------------------------------------------------------

MESSAGES = [
    "Hello World",
    "connection TIMEOUT after 30s (code E42)",
    "load: inserted 12 rows into warehouse.orders",
    "quoted \"double\" and 'single'",
    "100% done_now",
    "café au lait",
    "ab",
    "WAREHOUSE is full",
    "tab\tseparated",
]
QUERIES = [
    "hello",
    "WORLD",
    "o w",
    "arehous",
    "timeout after",
    "code e42)",
    "e42",
    '"double"',
    "'single'",
    "0%",
    "_",
    "e_n",
    "café",
    "ab",
    "b",
    "not there",
    "tab\ts",
    "rows into warehouse.orders",
]


async def test_substring_search_answers_as_a_scan(store: Store) -> None:
    await store.add_logs([log_line(message, seconds=n) for n, message in enumerate(MESSAGES)])
    await store.delete_logs(DEFAULT_TENANT, "e-gone")
    await store.add_logs([log_line("hello from a deleted line", execution_id="e-gone")])
    await store.delete_logs(DEFAULT_TENANT, "e-gone")

    for q in QUERIES:
        page = await store.search_logs(LogQuery(q=q, size=100))
        expected = [m for m in reversed(MESSAGES) if q.lower() in m.lower()]
        assert [entry.message for entry in page.results] == expected, q
        assert page.total == len(expected), q


async def test_the_message_index_serves_the_search(store: Store) -> None:
    assert isinstance(store, SqlStore)
    await store.add_logs([log_line(message) for message in MESSAGES])
    await store.delete_logs(DEFAULT_TENANT, "e1", task_id="none")
    q = "%arehous%"

    def plan(conn):  # type: ignore[no-untyped-def]
        if conn.dialect.name == "sqlite":
            # The FTS table agrees with its content table (triggers kept it in sync).
            conn.execute(text("INSERT INTO logs_fts(logs_fts) VALUES ('integrity-check')"))
            count = conn.execute(text("SELECT count(*) FROM logs_fts")).scalar_one()
            return str(count)
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        rows = conn.execute(
            text("EXPLAIN SELECT id FROM logs WHERE lower(message) LIKE :q"), {"q": q}
        )
        return "\n".join(row[0] for row in rows)

    found = await store.writer.submit(plan)
    if store.dialect == "sqlite":
        assert found == str(len(MESSAGES))
    else:
        assert "ix_logs_message_trgm" in found


# --- incremental purge -------------------------------------------------------------------------


async def seed_history(store: Store) -> None:
    for number, state in enumerate(
        [StateType.SUCCESS, StateType.FAILED, StateType.RUNNING, StateType.SUCCESS]
    ):
        run = execution(f"old{number}", state=state, start=at(number), labels={"k": "v"})
        await store.create_execution(run)
        await store.apply_steps(
            [ExecutionStep(run.id, task_runs=(task_run(f"{run.id}-t", run, state=state),))]
        )
        await store.add_logs([log_line("old line", execution_id=run.id)])
    recent = execution("recent", state=StateType.SUCCESS, start=at(3600))
    await store.create_execution(recent)
    await store.add_logs([log_line("recent line", execution_id="recent")])


async def test_purge_deletes_ended_executions_with_everything_that_hangs_off_them(
    store: Store,
) -> None:
    await seed_history(store)

    first = await store.purge_executions(at(100), tenant_id=DEFAULT_TENANT, limit=2)
    second = await store.purge_executions(at(100), tenant_id=DEFAULT_TENANT, limit=2)
    third = await store.purge_executions(at(100), tenant_id=DEFAULT_TENANT, limit=2)

    assert [p.id for p in first] == ["old0", "old1"]  # oldest first, a batch per call
    assert [p.id for p in second] == ["old3"]  # the running one is kept
    assert third == []
    assert await store.get_execution(DEFAULT_TENANT, "old0") is None
    assert await store.list_task_runs("old0") == []
    assert await store.list_logs(DEFAULT_TENANT, "old1") == []
    kept = await store.search_executions(ExecutionQuery(size=10))
    assert sorted(e.id for e in kept.results) == ["old2", "recent"]
    lines = await store.search_logs(LogQuery(q="line"))
    assert [e.message for e in lines.results] == [
        "recent line",
        "old line",
    ]
    labelled = await store.search_executions(ExecutionQuery(labels={"k": "v"}))
    assert [e.id for e in labelled.results] == ["old2"]


async def test_history_retention_by_age_and_count_deletes_files_too(
    store: Store, tmp_path: Path
) -> None:
    await seed_history(store)
    storage = LocalStorage(tmp_path / "storage")
    for execution_id in ("old0", "recent"):
        prefix = execution_prefix("company.team", "hello", execution_id)
        await storage.put(DEFAULT_TENANT, prefix / "outputs" / "file.txt", b"data")

    by_count = HistoryRetention(store, max_executions=3, storage=storage, batch=1)
    assert await by_count.purge_once() == 2  # old0, old1: beyond the 3 newest (old2 runs)
    by_age = HistoryRetention(
        store, retention=timedelta(minutes=30), clock=lambda: T0 + timedelta(hours=1)
    )
    assert await by_age.purge_once() == 1  # old3

    kept = await store.search_executions(ExecutionQuery(size=10))
    assert sorted(e.id for e in kept.results) == ["old2", "recent"]
    old_file = PurePosixPath(execution_prefix("company.team", "hello", "old0")) / "outputs"
    assert not await storage.exists(DEFAULT_TENANT, old_file / "file.txt")
    recent = execution_prefix("company.team", "hello", "recent") / "outputs" / "file.txt"
    assert await storage.exists(DEFAULT_TENANT, recent)
    assert await store.reclaim_space() == 0


async def test_a_new_sqlite_database_gives_freed_pages_back(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'lanner.db'}")  # PostgreSQL's autovacuum reuses
    await store.start()
    try:
        await _free_pages_go_back(store)
    finally:
        await store.close()


async def _free_pages_go_back(store: SqlStore) -> None:
    await store.add_logs([log_line("x" * 2000, execution_id=f"e{n}") for n in range(300)])
    for number in range(300):
        await store.delete_logs(DEFAULT_TENANT, f"e{number}")

    def pragmas(conn):  # type: ignore[no-untyped-def]
        mode = conn.exec_driver_sql("PRAGMA auto_vacuum").scalar_one()
        return mode, conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()

    mode, free = await store.readers.run(pragmas)
    assert mode == 2  # INCREMENTAL
    assert free > 0
    while await store.reclaim_space() > 0:
        pass
    assert (await store.readers.run(pragmas))[1] == 0


async def test_walking_the_date_index_answers_as_sorting_the_matches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(8):
        namespace = "company.team" if number % 2 else "company.team.sub"
        await store.create_execution(
            execution(f"x{number}", namespace=namespace, start=at(number % 3))
        )
    await store.create_execution(execution("y", namespace="company.teams", start=at(9)))
    await store.add_logs([log_line(f"line {n % 3}", seconds=n % 4) for n in range(9)])
    queries = [ExecutionQuery(namespace="company.team", size=3, page=p) for p in (1, 2, 3)]
    log_queries = [LogQuery(q="line", size=4, page=p) for p in (1, 2, 3)]

    async def answers() -> list[list[str]]:
        pages = [[e.id for e in (await store.search_executions(q)).results] for q in queries]
        for q in log_queries:
            found = await store.search_logs(q)
            pages.append([f"{e.message}@{e.timestamp}" for e in found.results])
        return pages

    sorted_answers = await answers()
    monkeypatch.setattr("lanner.store.sqlalchemy.counts.SMALL_MATCHES", 1)
    walked = await answers()

    assert walked == sorted_answers
    assert sum(len(page) for page in sorted_answers[:3]) == 8


async def test_a_common_term_walks_the_lines_and_answers_the_same(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.add_logs([log_line(message, seconds=n) for n, message in enumerate(MESSAGES)])
    monkeypatch.setattr("lanner.store.sqlalchemy.textsearch.MAX_CANDIDATES", 0)

    for q in QUERIES:
        page = await store.search_logs(LogQuery(q=q, size=100))
        expected = [m for m in reversed(MESSAGES) if q.lower() in m.lower()]
        assert [entry.message for entry in page.results] == expected, q
