"""Contract: API tokens (add, find, list, revoke, count of active ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lanner.errors import ConflictError
from lanner.store import ApiToken, Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def token(name: str, *, created: datetime = NOW, expires: datetime | None = None) -> ApiToken:
    return ApiToken(
        id=f"id-{name}",
        name=name,
        token_hash=f"{name:0>64}"[-64:],
        created=created,
        expires=expires,
    )


async def test_add_then_find_by_hash(store: Store) -> None:
    added = await store.add_token(token("ci", expires=NOW + timedelta(days=30)))

    found = await store.find_token(added.token_hash)

    assert found == added
    assert found is not None
    assert found.expires == NOW + timedelta(days=30)
    assert found.created.tzinfo is not None
    assert await store.find_token("0" * 64) is None


async def test_duplicate_name_is_a_conflict(store: Store) -> None:
    await store.add_token(token("ci"))

    with pytest.raises(ConflictError, match="'ci'"):
        await store.add_token(ApiToken(id="other", name="ci", token_hash="f" * 64, created=NOW))

    assert [t.id for t in await store.list_tokens()] == ["id-ci"]


async def test_list_is_oldest_first_and_includes_revoked(store: Store) -> None:
    await store.add_token(token("second", created=NOW + timedelta(hours=1)))
    await store.add_token(token("first", created=NOW))
    await store.revoke_token("first")

    listed = await store.list_tokens()

    assert [(t.name, t.revoked) for t in listed] == [("first", True), ("second", False)]


async def test_revoke(store: Store) -> None:
    await store.add_token(token("ci"))

    assert await store.revoke_token("ci") is True
    assert await store.revoke_token("missing") is False
    found = await store.find_token(token("ci").token_hash)
    assert found is not None
    assert found.revoked is True


async def test_count_active_skips_revoked_and_expired(store: Store) -> None:
    await store.add_token(token("forever"))
    await store.add_token(token("until-tomorrow", expires=NOW + timedelta(days=1)))
    await store.add_token(token("expired", expires=NOW - timedelta(seconds=1)))
    await store.add_token(token("revoked"))
    await store.revoke_token("revoked")

    assert await store.count_active_tokens(NOW) == 2
    assert await store.count_active_tokens(NOW + timedelta(days=2)) == 1
    assert await store.count_active_tokens(NOW - timedelta(days=1)) == 3


async def test_expiry_compares_instants_not_wall_clocks(store: Store) -> None:
    # 13:00 at UTC+2 is 11:00 UTC: one hour before NOW, though its wall clock reads later.
    expires = datetime(2026, 11, 28, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    await store.add_token(token("shifted", expires=expires))

    assert await store.count_active_tokens(NOW) == 0
    assert await store.count_active_tokens(NOW - timedelta(hours=2)) == 1
    found = await store.find_token(token("shifted").token_hash)
    assert found is not None
    assert found.expires == NOW - timedelta(hours=1)


async def test_count_active_with_no_tokens_is_zero(store: Store) -> None:
    assert await store.count_active_tokens(NOW) == 0
