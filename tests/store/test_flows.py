"""Contract: flows and their revisions (compare-and-set, deletions, listing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC

import pytest

from lanner.errors import ConcurrentUpdateError
from lanner.store import DEFAULT_TENANT, NewFlowRevision, Store, StoredFlow, open_store

NewFlow = Callable[..., NewFlowRevision]


async def test_create_then_get_returns_the_first_revision(store: Store, new_flow: NewFlow) -> None:
    created = await store.add_flow_revision(
        new_flow(labels={"team": "data"}), expected_revision=None
    )

    fetched = await store.get_flow(DEFAULT_TENANT, "company.team", "hello")

    assert created.revision == 1
    assert fetched == created
    assert fetched.source.startswith("id: hello\n")
    assert fetched.document["tasks"][0]["message"] == "hi"
    assert fetched.labels == {"team": "data"}
    assert fetched.deleted is False
    assert fetched.disabled is False
    assert fetched.updated.tzinfo is not None
    assert fetched.updated.utcoffset() == UTC.utcoffset(None)


async def test_get_unknown_flow_is_none(store: Store) -> None:
    assert await store.get_flow(DEFAULT_TENANT, "nowhere", "nothing") is None
    assert await store.get_flow(DEFAULT_TENANT, "nowhere", "nothing", revision=1) is None


async def test_revisions_are_numbered_without_gaps(store: Store, new_flow: NewFlow) -> None:
    for expected, message in [(None, "one"), (1, "two"), (2, "three")]:
        await store.add_flow_revision(new_flow(message=message), expected_revision=expected)

    revisions = await store.list_flow_revisions(DEFAULT_TENANT, "company.team", "hello")
    latest = await store.get_flow(DEFAULT_TENANT, "company.team", "hello")
    second = await store.get_flow(DEFAULT_TENANT, "company.team", "hello", revision=2)

    assert [r.revision for r in revisions] == [1, 2, 3]
    assert [r.document["tasks"][0]["message"] for r in revisions] == ["one", "two", "three"]
    assert latest is not None
    assert latest.revision == 3
    assert second is not None
    assert second.document["tasks"][0]["message"] == "two"


async def test_deleted_revision_hides_the_flow_unless_allowed(
    store: Store, new_flow: NewFlow
) -> None:
    await store.add_flow_revision(new_flow(), expected_revision=None)
    await store.add_flow_revision(new_flow(deleted=True), expected_revision=1)

    hidden = await store.get_flow(DEFAULT_TENANT, "company.team", "hello")
    deleted = await store.get_flow(DEFAULT_TENANT, "company.team", "hello", allow_deleted=True)
    first = await store.get_flow(DEFAULT_TENANT, "company.team", "hello", revision=1)
    revisions = await store.list_flow_revisions(DEFAULT_TENANT, "company.team", "hello")

    assert hidden is None
    assert deleted is not None
    assert deleted.deleted
    assert deleted.revision == 2
    assert first is not None
    assert not first.deleted
    assert [r.deleted for r in revisions] == [False, True]
    assert await store.list_flows(DEFAULT_TENANT, "company.team") == []


async def test_deleted_revision_by_number_needs_allow_deleted(
    store: Store, new_flow: NewFlow
) -> None:
    await store.add_flow_revision(new_flow(), expected_revision=None)
    await store.add_flow_revision(new_flow(deleted=True), expected_revision=1)

    assert await store.get_flow(DEFAULT_TENANT, "company.team", "hello", revision=2) is None
    allowed = await store.get_flow(
        DEFAULT_TENANT, "company.team", "hello", revision=2, allow_deleted=True
    )
    assert allowed is not None
    assert allowed.deleted


async def test_a_deleted_flow_comes_back_with_the_next_revision(
    store: Store, new_flow: NewFlow
) -> None:
    await store.add_flow_revision(new_flow(), expected_revision=None)
    await store.add_flow_revision(new_flow(deleted=True), expected_revision=1)

    revived = await store.add_flow_revision(new_flow(message="back"), expected_revision=2)

    assert revived.revision == 3
    current = await store.get_flow(DEFAULT_TENANT, "company.team", "hello")
    assert current is not None
    assert current.document["tasks"][0]["message"] == "back"


async def test_disabled_flag_is_stored(store: Store, new_flow: NewFlow) -> None:
    await store.add_flow_revision(new_flow(disabled=True), expected_revision=None)

    flow = await store.get_flow(DEFAULT_TENANT, "company.team", "hello")

    assert flow is not None
    assert flow.disabled is True


async def test_create_of_an_existing_flow_is_a_conflict(store: Store, new_flow: NewFlow) -> None:
    await store.add_flow_revision(new_flow(), expected_revision=None)

    with pytest.raises(ConcurrentUpdateError):
        await store.add_flow_revision(new_flow(message="again"), expected_revision=None)

    revisions = await store.list_flow_revisions(DEFAULT_TENANT, "company.team", "hello")
    assert [r.revision for r in revisions] == [1]


@pytest.mark.parametrize("stale", [0, 1, 3])
async def test_update_with_a_stale_revision_is_a_conflict(
    store: Store, new_flow: NewFlow, stale: int
) -> None:
    await store.add_flow_revision(new_flow(), expected_revision=None)
    await store.add_flow_revision(new_flow(message="two"), expected_revision=1)

    with pytest.raises(ConcurrentUpdateError, match="changed concurrently"):
        await store.add_flow_revision(new_flow(message="late"), expected_revision=stale)

    latest = await store.get_flow(DEFAULT_TENANT, "company.team", "hello")
    assert latest is not None
    assert latest.revision == 2
    assert latest.document["tasks"][0]["message"] == "two"


async def test_update_of_a_missing_flow_is_a_conflict(store: Store, new_flow: NewFlow) -> None:
    with pytest.raises(ConcurrentUpdateError):
        await store.add_flow_revision(new_flow(), expected_revision=1)

    assert await store.list_flow_revisions(DEFAULT_TENANT, "company.team", "hello") == []


@pytest.mark.parametrize("expected", [None, 1])
async def test_concurrent_writers_of_the_same_revision_exactly_one_wins(
    store: Store, new_flow: NewFlow, expected: int | None
) -> None:
    if expected is not None:
        await store.add_flow_revision(new_flow(), expected_revision=None)

    outcomes = await asyncio.gather(
        store.add_flow_revision(new_flow(message="a"), expected_revision=expected),
        store.add_flow_revision(new_flow(message="b"), expected_revision=expected),
        return_exceptions=True,
    )

    winners = [o for o in outcomes if isinstance(o, StoredFlow)]
    losers = [o for o in outcomes if isinstance(o, ConcurrentUpdateError)]
    assert len(winners) == 1
    assert len(losers) == 1
    revisions = await store.list_flow_revisions(DEFAULT_TENANT, "company.team", "hello")
    assert revisions[-1] == winners[0]
    assert len(revisions) == (1 if expected is None else 2)


@pytest.mark.parametrize("expected", [None, 1])
async def test_two_stores_racing_on_one_database_exactly_one_wins(
    store: Store, database_url: str, new_flow: NewFlow, expected: int | None
) -> None:
    # Two stores: two writer threads, two connections; only the database can arbitrate.
    other = open_store(database_url)
    await other.start()
    try:
        if expected is not None:
            await store.add_flow_revision(new_flow(), expected_revision=None)
        outcomes = await asyncio.gather(
            *(
                writer.add_flow_revision(new_flow(message=str(i)), expected_revision=expected)
                for i in range(4)
                for writer in (store, other)
            ),
            return_exceptions=True,
        )
    finally:
        await other.close()

    winners = [o for o in outcomes if isinstance(o, StoredFlow)]
    assert len(winners) == 1
    assert all(isinstance(o, ConcurrentUpdateError) for o in outcomes if o is not winners[0])
    revisions = await store.list_flow_revisions(DEFAULT_TENANT, "company.team", "hello")
    assert [r.revision for r in revisions] == ([1] if expected is None else [1, 2])


async def test_list_flows_by_exact_namespace(store: Store, new_flow: NewFlow) -> None:
    for namespace, flow_id in [
        ("company.team", "b"),
        ("company.team", "a"),
        ("company.team.sub", "c"),
        ("company", "d"),
    ]:
        await store.add_flow_revision(new_flow(namespace, flow_id), expected_revision=None)

    in_team = await store.list_flows(DEFAULT_TENANT, "company.team")
    everything = await store.list_flows(DEFAULT_TENANT)

    assert [(f.namespace, f.id) for f in in_team] == [("company.team", "a"), ("company.team", "b")]
    assert [(f.namespace, f.id) for f in everything] == [
        ("company", "d"),
        ("company.team", "a"),
        ("company.team", "b"),
        ("company.team.sub", "c"),
    ]


async def test_list_flows_returns_latest_revisions(store: Store, new_flow: NewFlow) -> None:
    await store.add_flow_revision(new_flow(message="old"), expected_revision=None)
    await store.add_flow_revision(new_flow(message="new"), expected_revision=1)

    (flow,) = await store.list_flows(DEFAULT_TENANT, "company.team")

    assert flow.revision == 2
    assert flow.document["tasks"][0]["message"] == "new"


async def test_tenants_do_not_see_each_other(store: Store, new_flow: NewFlow) -> None:
    await store.add_flow_revision(new_flow(tenant_id="acme"), expected_revision=None)

    assert await store.get_flow(DEFAULT_TENANT, "company.team", "hello") is None
    assert await store.list_flows(DEFAULT_TENANT) == []
    assert await store.distinct_namespaces(DEFAULT_TENANT) == []
    # The same key in another tenant starts its own revision history.
    created = await store.add_flow_revision(new_flow(), expected_revision=None)
    assert created.revision == 1
    acme = await store.get_flow("acme", "company.team", "hello")
    assert acme is not None
    assert acme.tenant_id == "acme"


async def test_unicode_and_nested_documents_round_trip(store: Store, new_flow: NewFlow) -> None:
    flow = new_flow(message='héllo ✓ «quoted» "x"', labels={"ключ": "値"})

    await store.add_flow_revision(flow, expected_revision=None)
    stored = await store.get_flow(DEFAULT_TENANT, "company.team", "hello")

    assert stored is not None
    assert stored.document == flow.document
    assert stored.source == flow.source
    assert stored.labels == {"ключ": "値"}
