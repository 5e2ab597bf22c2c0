"""The KV store contract, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from lanner.domain.kv import KVType, KVValue
from lanner.errors import ConflictError
from lanner.store.sqlalchemy.store import SqlStore

NS = "company.team"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def kv_store(database_url: str, clock: Clock) -> AsyncIterator[SqlStore]:
    store = SqlStore(database_url, clock=clock)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


@pytest.mark.parametrize(
    "value",
    [
        KVValue(KVType.STRING, "héllo"),
        KVValue(KVType.NUMBER, 42),
        KVValue(KVType.NUMBER, 1.25),
        KVValue(KVType.BOOLEAN, False),
        KVValue(KVType.DATETIME, "2024-01-02T03:04:05Z"),
        KVValue(KVType.DATE, "2024-01-02"),
        KVValue(KVType.DURATION, "PT5S"),
        KVValue(KVType.JSON, {"b": [1, {"c": None}], "a": "x"}),
        KVValue(KVType.JSON, [3, 2, 1]),
    ],
)
async def test_every_type_round_trips(kv_store: SqlStore, value: KVValue) -> None:
    entry = await kv_store.put_kv("main", NS, "k", value, description="d")
    assert (entry.type, entry.value, entry.revision, entry.description) == (
        value.type, value.value, 1, "d",
    )  # fmt: skip
    stored = await kv_store.get_kv("main", NS, "k")
    assert stored is not None
    assert (stored.type, stored.value) == (value.type, value.value)
    assert stored.created == stored.updated == START
    assert stored.expires is None
    if value.type is KVType.JSON and isinstance(value.value, dict):
        assert list(stored.value) == ["b", "a"]  # key order kept


async def test_overwrite_bumps_the_revision_and_keeps_created(
    kv_store: SqlStore, clock: Clock
) -> None:
    await kv_store.put_kv("main", NS, "k", KVValue(KVType.STRING, "a"))
    clock.now = START + timedelta(minutes=5)
    entry = await kv_store.put_kv("main", NS, "k", KVValue(KVType.NUMBER, 2))
    assert (entry.revision, entry.type, entry.value) == (2, KVType.NUMBER, 2)
    assert (entry.created, entry.updated) == (START, clock.now)


async def test_without_overwrite_a_live_entry_conflicts_but_an_expired_one_is_replaced(
    kv_store: SqlStore, clock: Clock
) -> None:
    await kv_store.put_kv("main", NS, "k", KVValue(KVType.STRING, "a"), ttl=timedelta(seconds=10))
    with pytest.raises(ConflictError):
        await kv_store.put_kv("main", NS, "k", KVValue(KVType.STRING, "b"), overwrite=False)
    stored = await kv_store.get_kv("main", NS, "k")
    assert stored is not None
    assert stored.value == "a"
    clock.now = START + timedelta(seconds=10)
    entry = await kv_store.put_kv("main", NS, "k", KVValue(KVType.STRING, "c"), overwrite=False)
    assert (entry.value, entry.expires) == ("c", None)
    fresh = await kv_store.put_kv("main", NS, "new", KVValue(KVType.STRING, "n"), overwrite=False)
    assert fresh.revision == 1


async def test_ttl_sets_the_expiry_and_expired_entries_are_not_listed(
    kv_store: SqlStore, clock: Clock
) -> None:
    await kv_store.put_kv(
        "main", NS, "short", KVValue(KVType.STRING, "s"), ttl=timedelta(minutes=1)
    )
    await kv_store.put_kv("main", NS, "long", KVValue(KVType.STRING, "l"), ttl=timedelta(days=1))
    await kv_store.put_kv("main", NS, "forever", KVValue(KVType.STRING, "f"))
    assert [e.key for e in await kv_store.list_kv("main", NS)] == ["forever", "long", "short"]
    clock.now = START + timedelta(minutes=2)
    assert [e.key for e in await kv_store.list_kv("main", NS)] == ["forever", "long"]
    expired = await kv_store.get_kv("main", NS, "short")
    assert expired is not None
    assert expired.expires == START + timedelta(minutes=1)
    assert expired.is_expired(clock.now)


async def test_entries_are_scoped_by_tenant_and_namespace(kv_store: SqlStore) -> None:
    await kv_store.put_kv("main", NS, "k", KVValue(KVType.STRING, "main"))
    await kv_store.put_kv("other", NS, "k", KVValue(KVType.STRING, "other"))
    await kv_store.put_kv("main", NS + ".sub", "k", KVValue(KVType.STRING, "sub"))
    for tenant, namespace, expected in (
        ("main", NS, "main"), ("other", NS, "other"), ("main", NS + ".sub", "sub"),
    ):  # fmt: skip
        entry = await kv_store.get_kv(tenant, namespace, "k")
        assert entry is not None
        assert entry.value == expected
    assert await kv_store.get_kv("main", "company", "k") is None
    assert [e.key for e in await kv_store.list_kv("main", NS)] == ["k"]


async def test_delete_returns_what_existed(kv_store: SqlStore) -> None:
    for key in ("a", "b", "c"):
        await kv_store.put_kv("main", NS, key, KVValue(KVType.NUMBER, 1))
    assert await kv_store.delete_kv("main", NS, ["c", "missing", "a", "a"]) == ["c", "a"]
    assert await kv_store.delete_kv("main", NS, ["a"]) == []
    assert await kv_store.delete_kv("main", NS, []) == []
    assert [e.key for e in await kv_store.list_kv("main", NS)] == ["b"]
