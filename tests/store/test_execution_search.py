"""Contract: execution search (filters, labels, states, dates, sort, paging, total)."""

from __future__ import annotations

import pytest
from tests.store.factories import at, execution

from lanner.domain.executions import Execution
from lanner.domain.states import StateType
from lanner.errors import IllegalArgumentError
from lanner.store import ExecutionQuery, Store

S = StateType

# id, namespace, flow id, state, start (seconds after T0), labels, parent
SEEDS = [
    ("ex-a", "company.team", "alpha", S.SUCCESS, 0, {"env": "prod", "team": "data"}, None),
    ("ex-b", "company.team", "beta", S.FAILED, 10, {"env": "dev", "team": "data"}, None),
    ("ex-c", "company.team.sub", "gamma", S.RUNNING, 20, {"env": "prod"}, "ex-a"),
    ("ex-d", "company.teams", "alpha", S.SUCCESS, 30, {}, None),
    ("ex-e", "other", "Team_Report", S.PAUSED, 40, {"env": "prod", "team": "ops"}, None),
]


@pytest.fixture
async def seeded(store: Store) -> Store:
    for execution_id, namespace, flow_id, state, start, labels, parent in SEEDS:
        await store.create_execution(
            execution(
                execution_id,
                namespace=namespace,
                flow_id=flow_id,
                state=state,
                start=at(start),
                labels=labels,
                parent_id=parent,
            )
        )
    # Never found: another tenant's, and a deleted one.
    await store.create_execution(execution("ex-x", tenant_id="acme", start=at(50)))
    await store.create_execution(execution("ex-z", start=at(60), deleted=True))
    return store


def ids(results: list[Execution]) -> list[str]:
    return [e.id for e in results]


async def search(store: Store, **criteria: object) -> tuple[list[str], int]:
    page = await store.search_executions(ExecutionQuery(**criteria))  # type: ignore[arg-type]
    return ids(page.results), page.total


async def test_default_is_every_execution_of_the_tenant_newest_first(seeded: Store) -> None:
    assert await search(seeded, size=100) == (["ex-e", "ex-d", "ex-c", "ex-b", "ex-a"], 5)
    assert await search(seeded, tenant_id="acme") == (["ex-x"], 1)


async def test_namespace_matches_itself_and_children_only(seeded: Store) -> None:
    assert await search(seeded, namespace="company.team") == (["ex-c", "ex-b", "ex-a"], 3)


async def test_flow_id_is_exact(seeded: Store) -> None:
    assert await search(seeded, flow_id="alpha") == (["ex-d", "ex-a"], 2)
    assert await search(seeded, namespace="company.team", flow_id="alpha") == (["ex-a"], 1)


async def test_states_are_any_of(seeded: Store) -> None:
    assert await search(seeded, states=(S.FAILED, S.PAUSED)) == (["ex-e", "ex-b"], 2)
    assert await search(seeded, states=(S.KILLED,)) == ([], 0)


async def test_labels_must_all_match(seeded: Store) -> None:
    assert await search(seeded, labels={"env": "prod"}) == (["ex-e", "ex-c", "ex-a"], 3)
    assert await search(seeded, labels={"env": "prod", "team": "data"}) == (["ex-a"], 1)
    assert await search(seeded, labels={"env": "staging"}) == ([], 0)


async def test_q_is_a_case_insensitive_substring_of_id_namespace_or_flow(seeded: Store) -> None:
    assert await search(seeded, q="TEAM_rep") == (["ex-e"], 1)
    assert await search(seeded, q="TEAMS") == (["ex-d"], 1)
    assert await search(seeded, q="EX-B") == (["ex-b"], 1)
    assert await search(seeded, q="%") == ([], 0)


async def test_dates_bound_the_start_date_inclusively(seeded: Store) -> None:
    assert await search(seeded, start_date=at(10), end_date=at(30)) == (
        ["ex-d", "ex-c", "ex-b"],
        3,
    )
    assert await search(seeded, start_date=at(35)) == (["ex-e"], 1)


async def test_parent_id(seeded: Store) -> None:
    assert await search(seeded, parent_id="ex-a") == (["ex-c"], 1)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ((("id", False),), ["ex-a", "ex-b", "ex-c", "ex-d", "ex-e"]),
        # Byte order ("T" < "a"); ties broken by id, ascending.
        ((("flowId", True),), ["ex-c", "ex-b", "ex-a", "ex-d", "ex-e"]),
        ((("namespace", False), ("flowId", False)), ["ex-a", "ex-b", "ex-c", "ex-d", "ex-e"]),
        ((("state.current", False),), ["ex-b", "ex-e", "ex-c", "ex-a", "ex-d"]),
        ((("state.startDate", False),), ["ex-a", "ex-b", "ex-c", "ex-d", "ex-e"]),
        # Unfinished (RUNNING) sorts as the latest end; PAUSED has an end date, as in Kestra.
        ((("state.endDate", False),), ["ex-a", "ex-b", "ex-d", "ex-e", "ex-c"]),
        ((("state.endDate", True),), ["ex-c", "ex-e", "ex-d", "ex-b", "ex-a"]),
    ],
)
async def test_sort(seeded: Store, sort: tuple[tuple[str, bool], ...], expected: list[str]) -> None:
    assert await search(seeded, sort=sort, size=100) == (expected, 5)


async def test_pages_partition_the_results_and_total_counts_all(seeded: Store) -> None:
    pages = [await search(seeded, page=n, size=2, sort=(("id", False),)) for n in (1, 2, 3, 4)]

    assert pages == [
        (["ex-a", "ex-b"], 5),
        (["ex-c", "ex-d"], 5),
        (["ex-e"], 5),
        ([], 5),
    ]


@pytest.mark.parametrize(
    "query",
    [
        ExecutionQuery(sort=(("labels", False),)),
        ExecutionQuery(page=0),
        ExecutionQuery(size=0),
        ExecutionQuery(size=10_001),
    ],
)
async def test_bad_arguments_are_refused(store: Store, query: ExecutionQuery) -> None:
    with pytest.raises(IllegalArgumentError):
        await store.search_executions(query)
