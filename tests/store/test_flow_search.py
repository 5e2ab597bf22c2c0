"""Contract: flow search (filters, sort, paging, total) and distinct namespaces."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from lanner.errors import IllegalArgumentError
from lanner.store import DEFAULT_TENANT, FlowQuery, NewFlowRevision, Store
from lanner.store.sqlalchemy.store import SqlStore

NewFlow = Callable[..., NewFlowRevision]

FLOWS = [
    ("company.team", "alpha", {"env": "prod", "team": "data"}),
    ("company.team", "beta", {"env": "dev", "team": "data"}),
    ("company.team.sub", "gamma", {"env": "prod"}),
    ("company.teams", "delta", {}),
    ("other", "Team_Report", {"env": "prod", "team": "ops"}),
]


@pytest.fixture
async def seeded(store: Store, new_flow: NewFlow) -> Store:
    for namespace, flow_id, labels in FLOWS:
        await store.add_flow_revision(
            new_flow(namespace, flow_id, labels=labels), expected_revision=None
        )
    # A deleted flow never shows up in search results, totals or namespaces.
    await store.add_flow_revision(new_flow("company.team", "zombie"), expected_revision=None)
    await store.add_flow_revision(
        new_flow("company.team", "zombie", deleted=True), expected_revision=1
    )
    await store.add_flow_revision(new_flow("gone.ns", "zombie"), expected_revision=None)
    await store.add_flow_revision(new_flow("gone.ns", "zombie", deleted=True), expected_revision=1)
    return store


def keys(page_results: list[object]) -> list[tuple[str, str]]:
    return [(f.namespace, f.id) for f in page_results]  # type: ignore[attr-defined]


async def test_no_criteria_returns_every_live_flow(seeded: Store) -> None:
    page = await seeded.search_flows(FlowQuery(size=100))

    assert page.total == 5
    assert keys(page.results) == [
        ("company.team", "alpha"),
        ("company.team", "beta"),
        ("company.team.sub", "gamma"),
        ("company.teams", "delta"),
        ("other", "Team_Report"),
    ]


async def test_namespace_matches_itself_and_children_only(seeded: Store) -> None:
    page = await seeded.search_flows(FlowQuery(namespace="company.team", size=100))

    assert page.total == 3
    assert keys(page.results) == [
        ("company.team", "alpha"),
        ("company.team", "beta"),
        ("company.team.sub", "gamma"),
    ]


async def test_q_is_a_case_insensitive_substring_of_id_or_namespace(seeded: Store) -> None:
    by_id = await seeded.search_flows(FlowQuery(q="TEAM_rep"))
    by_namespace = await seeded.search_flows(FlowQuery(q="TEAMS"))

    assert keys(by_id.results) == [("other", "Team_Report")]
    assert keys(by_namespace.results) == [("company.teams", "delta")]


@pytest.mark.parametrize("wildcard", ["%", "_", "te_m"])
async def test_q_treats_like_wildcards_literally(seeded: Store, wildcard: str) -> None:
    page = await seeded.search_flows(FlowQuery(q=wildcard))

    expected = [("other", "Team_Report")] if wildcard == "_" else []
    assert keys(page.results) == expected
    assert page.total == len(expected)


async def test_labels_must_all_match(seeded: Store) -> None:
    prod = await seeded.search_flows(FlowQuery(labels={"env": "prod"}))
    prod_data = await seeded.search_flows(FlowQuery(labels={"env": "prod", "team": "data"}))
    none = await seeded.search_flows(FlowQuery(labels={"env": "staging"}))

    assert keys(prod.results) == [
        ("company.team", "alpha"),
        ("company.team.sub", "gamma"),
        ("other", "Team_Report"),
    ]
    assert keys(prod_data.results) == [("company.team", "alpha")]
    assert none.results == []
    assert none.total == 0


async def test_label_filter_follows_the_latest_revision(seeded: Store, new_flow: NewFlow) -> None:
    await seeded.add_flow_revision(
        new_flow("company.team", "alpha", labels={"env": "dev"}), expected_revision=1
    )

    prod = await seeded.search_flows(FlowQuery(labels={"env": "prod"}, namespace="company.team"))
    dev = await seeded.search_flows(FlowQuery(labels={"env": "dev"}, namespace="company.team"))

    assert keys(prod.results) == [("company.team.sub", "gamma")]
    assert keys(dev.results) == [("company.team", "alpha"), ("company.team", "beta")]


async def test_criteria_combine(seeded: Store) -> None:
    page = await seeded.search_flows(
        FlowQuery(namespace="company", q="a", labels={"team": "data"}, size=100)
    )

    assert keys(page.results) == [("company.team", "alpha"), ("company.team", "beta")]


async def test_sort_by_id_descending(seeded: Store) -> None:
    page = await seeded.search_flows(FlowQuery(sort=[("id", True)], size=100))

    assert [f.id for f in page.results] == ["gamma", "delta", "beta", "alpha", "Team_Report"]


async def test_sort_by_revision_then_id(seeded: Store, new_flow: NewFlow) -> None:
    await seeded.add_flow_revision(new_flow("company.teams", "delta"), expected_revision=1)

    page = await seeded.search_flows(FlowQuery(sort=[("revision", True), ("id", False)], size=3))

    assert [(f.id, f.revision) for f in page.results] == [
        ("delta", 2),
        ("Team_Report", 1),
        ("alpha", 1),
    ]


async def test_sort_by_updated(database_url: str, new_flow: NewFlow) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    clock = iter([base + timedelta(minutes=m) for m in (3, 1, 2)])
    store = SqlStore(database_url, clock=lambda: next(clock))
    await store.start()
    try:
        for flow_id in ["a", "b", "c"]:
            await store.add_flow_revision(new_flow("ns", flow_id), expected_revision=None)
        newest_first = await store.search_flows(FlowQuery(sort=[("updated", True)]))
        oldest_first = await store.search_flows(FlowQuery(sort=[("updated", False)]))
    finally:
        await store.close()

    assert [f.id for f in newest_first.results] == ["a", "c", "b"]
    assert [f.id for f in oldest_first.results] == ["b", "c", "a"]
    assert oldest_first.results[0].updated == base + timedelta(minutes=1)


async def test_pages_partition_the_results_and_keep_the_total(seeded: Store) -> None:
    pages = [await seeded.search_flows(FlowQuery(page=n, size=2)) for n in (1, 2, 3, 4)]

    assert [p.total for p in pages] == [5, 5, 5, 5]
    assert [len(p.results) for p in pages] == [2, 2, 1, 0]
    seen = [key for p in pages for key in keys(p.results)]
    everything = await seeded.search_flows(FlowQuery(size=100))
    assert seen == keys(everything.results)


async def test_search_is_per_tenant(seeded: Store) -> None:
    page = await seeded.search_flows(FlowQuery(tenant_id="acme"))

    assert page.results == []
    assert page.total == 0


async def test_unknown_sort_field_is_rejected(store: Store) -> None:
    with pytest.raises(IllegalArgumentError, match="cannot sort flows by 'source'"):
        await store.search_flows(FlowQuery(sort=[("source", False)]))


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1, 0), (-1, 10)])
async def test_bad_paging_is_rejected(store: Store, page: int, size: int) -> None:
    with pytest.raises(IllegalArgumentError):
        await store.search_flows(FlowQuery(page=page, size=size))


async def test_distinct_namespaces_are_sorted_and_live_only(seeded: Store) -> None:
    assert await seeded.distinct_namespaces(DEFAULT_TENANT) == [
        "company.team",
        "company.team.sub",
        "company.teams",
        "other",
    ]


async def test_distinct_namespaces_filtered_by_substring(seeded: Store) -> None:
    assert await seeded.distinct_namespaces(DEFAULT_TENANT, q="TEAM.") == ["company.team.sub"]
    assert await seeded.distinct_namespaces(DEFAULT_TENANT, q="oth") == ["other"]
    assert await seeded.distinct_namespaces(DEFAULT_TENANT, q="gone") == []
