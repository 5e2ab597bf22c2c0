"""Contract: log lines (numbered per execution, listed in order, filtered)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from tests.store.factories import at

from lanner.domain.logs import LogEntry, LogLevel
from lanner.store import DEFAULT_TENANT, LogQuery, Store

L = LogLevel


def line(
    execution_id: str | None,
    message: str,
    level: LogLevel = L.INFO,
    *,
    task_run_id: str | None = "tr1",
    task_id: str | None = "log",
    attempt: int | None = 1,
    seconds: float = 0,
) -> LogEntry:
    return LogEntry(
        tenant_id=DEFAULT_TENANT,
        namespace="company.team",
        flow_id="hello",
        execution_id=execution_id,
        task_run_id=task_run_id,
        task_id=task_id,
        attempt_number=attempt,
        level=level,
        message=message,
        timestamp=at(seconds),
        thread="worker-1",
    )


async def messages(store: Store, execution_id: str = "e1", **filters: object) -> list[str]:
    entries = await store.list_logs(DEFAULT_TENANT, execution_id, **filters)  # type: ignore[arg-type]
    return [e.message for e in entries]


async def test_lines_round_trip_numbered_per_execution(store: Store) -> None:
    written = [line("e1", "one"), line("e2", "other"), line("e1", "two", seconds=0.5)]

    await store.add_logs(written)
    await store.add_logs([line("e1", "three", L.ERROR, seconds=1)])
    listed = await store.list_logs(DEFAULT_TENANT, "e1")

    assert [(e.seq, e.message) for e in listed] == [(1, "one"), (2, "two"), (3, "three")]
    assert listed[0] == replace(written[0], seq=1)
    assert listed[1].timestamp == at(0.5)
    assert listed[1].timestamp.utcoffset() == timedelta(0)
    assert [(e.seq, e.message) for e in await store.list_logs(DEFAULT_TENANT, "e2")] == [
        (1, "other")
    ]


async def test_any_text_round_trips_through_the_bulk_write(store: Store) -> None:
    texts = ["tab\there", "two\nlines", "back\\slash \\N", "", "ünïcødé ✓ 日本", "a\r\nb", "\\."]
    written = [line("e1", text, seconds=i) for i, text in enumerate(texts)]
    written.append(replace(line("e1", "no ids", L.DEBUG), task_run_id=None, thread=None))

    await store.add_logs(written)
    listed = await store.list_logs(DEFAULT_TENANT, "e1")

    assert [replace(e, seq=None) for e in listed] == written
    assert [e.seq for e in listed] == list(range(1, len(written) + 1))


async def test_a_large_batch_keeps_its_order_and_is_searchable(store: Store) -> None:
    count = 1234  # several multi-line INSERTs on SQLite, then a remainder line by line
    written = [line("e1", f"bulk line {i:04d}", seconds=i / 1000) for i in range(count)]
    written[7] = line("e2", "other execution", seconds=0.007)

    await store.add_logs(written)
    listed = await store.list_logs(DEFAULT_TENANT, "e1")
    found = await store.search_logs(LogQuery(q="line 0042"))
    last = await store.search_logs(LogQuery(q=f"line {count - 1}"))

    assert [e.message for e in listed] == [e.message for e in written if e.execution_id == "e1"]
    assert [e.seq for e in listed] == list(range(1, count))
    assert listed[-1].timestamp == at((count - 1) / 1000)
    assert [e.message for e in found.results] == ["bulk line 0042"]
    assert [e.message for e in last.results] == [f"bulk line {count - 1}"]


async def test_concurrent_writers_get_gapless_numbers(store: Store) -> None:
    await asyncio.gather(
        *(store.add_logs([line("e1", f"{i}-a"), line("e1", f"{i}-b")]) for i in range(25))
    )

    listed = await store.list_logs(DEFAULT_TENANT, "e1")

    assert [e.seq for e in listed] == list(range(1, 51))
    # Each call's lines stay together, in the order given.
    for first, second in zip(listed[::2], listed[1::2], strict=True):
        assert (first.message[:-2], first.message[-1], second.message[-1]) == (
            second.message[:-2],
            "a",
            "b",
        )


async def test_filters(store: Store) -> None:
    await store.add_logs(
        [
            line("e1", "trace", L.TRACE),
            line("e1", "debug", L.DEBUG, task_run_id="tr2", task_id="other"),
            line("e1", "info", L.INFO, attempt=2),
            line("e1", "warn", L.WARN, task_run_id="tr2", task_id="other"),
            line("e1", "error", L.ERROR),
        ]
    )

    assert await messages(store, min_level=L.TRACE) == ["trace", "debug", "info", "warn", "error"]
    assert await messages(store, min_level=L.WARN) == ["warn", "error"]
    assert await messages(store, task_run_id="tr2") == ["debug", "warn"]
    assert await messages(store, task_id="log", min_level=L.INFO) == ["info", "error"]
    assert await messages(store, attempt=2) == ["info"]
    assert await messages(store, after_seq=3) == ["warn", "error"]
    assert await store.list_logs("acme", "e1") == []


async def test_lines_without_an_execution_are_kept_unnumbered(store: Store) -> None:
    trigger_line = replace(line(None, "polled"), trigger_id="every-minute", task_run_id=None)

    await store.add_logs([trigger_line, line("e1", "run")])

    assert [(e.seq, e.message) for e in await store.list_logs(DEFAULT_TENANT, "e1")] == [(1, "run")]


@pytest.mark.parametrize(
    ("level", "minimum", "passes"),
    [
        (L.ERROR, L.WARN, True),
        (L.WARN, L.WARN, True),
        (L.INFO, L.WARN, False),
        (L.TRACE, L.TRACE, True),
    ],
)
def test_levels_are_ordered(level: LogLevel, minimum: LogLevel, passes: bool) -> None:
    assert level.is_at_least(minimum) is passes
    assert (level in LogLevel.at_least(minimum)) is passes
    assert (level.severity >= minimum.severity) is passes


async def test_two_stores_numbering_the_same_executions_never_deadlock(
    store: Store, database_url: str
) -> None:
    """Each batch reserves its executions' numbers in one order (by id) whatever the order
    of its lines: two processes writing lines of the same executions in opposite orders never
    wait on each other's rows in a cycle (PostgreSQL would abort one: a deadlock)."""
    from lanner.store import open_store

    executions = [f"e{i:02d}" for i in range(40)]
    rounds = 15
    other = open_store(database_url)
    await other.start()
    try:

        async def write(target: Store, order: list[str]) -> None:
            for _ in range(rounds):
                await target.add_logs([line(e, "x") for e in order])

        await asyncio.gather(write(store, executions), write(other, executions[::-1]))
    finally:
        await other.close()

    for execution_id in executions:
        seqs = [entry.seq for entry in await store.list_logs(DEFAULT_TENANT, execution_id)]
        assert seqs == list(range(1, 2 * rounds + 1)), execution_id
