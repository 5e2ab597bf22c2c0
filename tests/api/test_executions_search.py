"""Executions API: search (legacy parameters and filters[...]), list by flow, outputs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.api.executions_support import create, deploy, log_flow, move

from lanner.api.context import Services
from lanner.domain.states import StateType

pytestmark = pytest.mark.asyncio


async def _three(api: httpx.AsyncClient, services: Services, ns: str) -> list[dict[str, Any]]:
    """Three executions: hello (SUCCESS, label env:prod), hello (FAILED), other (CREATED)."""
    await deploy(api, log_flow(ns))
    await deploy(api, log_flow(f"{ns}.child", "other"))
    first = await create(api, ns, params={"labels": "env:prod"})
    second = await create(api, ns)
    third = await create(api, f"{ns}.child", "other")
    await move(services, first["id"], StateType.SUCCESS)
    await move(services, second["id"], StateType.FAILED)
    return [first, second, third]


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["results"]}


async def test_search_with_legacy_parameters(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    first, second, third = (e["id"] for e in await _three(api, services, ns))
    search = "/api/v1/executions/search"
    everything = await api.get(search, params={"namespace": ns})
    assert ids(everything) == {first, second, third}
    assert everything.json()["total"] == 3
    assert ids(await api.get(search, params={"namespace": ns, "flowId": "hello"})) == {
        first,
        second,
    }
    assert ids(await api.get(search, params={"namespace": ns, "state": "FAILED"})) == {second}
    assert ids(await api.get(search, params={"namespace": ns, "state": ["FAILED", "SUCCESS"]})) == {
        first,
        second,
    }
    assert ids(await api.get(search, params={"namespace": ns, "labels": "env:prod"})) == {first}
    assert ids(await api.get(search, params={"q": first})) == {first}
    assert ids(await api.get(search, params={"namespace": ns, "timeRange": "PT1H"})) == {
        first,
        second,
        third,
    }
    assert (
        ids(await api.get(search, params={"namespace": ns, "startDate": "2999-01-01T00:00:00Z"}))
        == set()
    )


async def test_search_with_filters(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    first, second, third = (e["id"] for e in await _three(api, services, ns))
    search = "/api/v1/main/executions/search"
    assert ids(await api.get(search, params={"filters[namespace][PREFIX]": ns})) == {
        first,
        second,
        third,
    }
    assert ids(
        await api.get(
            search, params={"filters[namespace][EQUALS]": ns, "filters[flowId][EQUALS]": "hello"}
        )
    ) == {first, second}
    assert ids(
        await api.get(
            search,
            params={"filters[namespace][EQUALS]": ns, "filters[state][IN]": "FAILED,SUCCESS"},
        )
    ) == {first, second}
    assert ids(
        await api.get(
            search,
            params={"filters[namespace][EQUALS]": ns, "filters[labels][EQUALS][env]": "prod"},
        )
    ) == {first}
    assert ids(
        await api.get(
            search, params={"filters[namespace][EQUALS]": ns, "filters[scope][EQUALS]": "USER"}
        )
    ) == {first, second, third}


async def test_search_paging_and_sort(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    made = await _three(api, services, ns)
    search = "/api/v1/executions/search"
    page = await api.get(
        search, params={"namespace": ns, "size": 2, "page": 1, "sort": "state.startDate:asc"}
    )
    body = page.json()
    assert body["total"] == 3
    assert [e["id"] for e in body["results"]] == [made[0]["id"], made[1]["id"]]
    second = await api.get(
        search, params={"namespace": ns, "size": 2, "page": 2, "sort": "state.startDate:asc"}
    )
    assert [e["id"] for e in second.json()["results"]] == [made[2]["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"size": 0},
        {"sort": "nope:asc"},
        {"state": "BOGUS"},
        {"startDate": "yesterday"},
        {"timeRange": "forever"},
        {"timeRange": "PT1H", "startDate": "2024-01-01T00:00:00Z"},
        {"startDate": "2024-02-01T00:00:00Z", "endDate": "2024-01-01T00:00:00Z"},
        {"filters[workerId][EQUALS]": "x"},
        {"filters[namespace][BOGUS]": "x"},
    ],
)
async def test_search_rejects_bad_parameters(
    api: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await api.get("/api/v1/executions/search", params=params)
    assert response.status_code == 422, response.text


async def test_search_bad_page_type_is_400(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/executions/search", params={"page": "x"})
    assert response.status_code == 400


async def test_list_by_flow_with_state(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    first, second, _ = (e["id"] for e in await _three(api, services, ns))
    listed = await api.get("/api/v1/executions", params={"namespace": ns, "flowId": "hello"})
    assert ids(listed) == {first, second}
    assert listed.json()["total"] == 2
    failed = await api.get(
        "/api/v1/executions", params={"namespace": ns, "flowId": "hello", "state": "FAILED"}
    )
    assert ids(failed) == {second}
    tenant = await api.get("/api/v1/main/executions", params={"namespace": ns, "flowId": "hello"})
    assert ids(tenant) == {first, second}


@pytest.mark.parametrize("params", [{}, {"namespace": "a"}, {"flowId": "b"}])
async def test_list_requires_namespace_and_flow_id(
    api: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await api.get("/api/v1/executions", params=params)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Bad Request")


async def test_task_run_outputs(api: httpx.AsyncClient, services: Services, ns: str) -> None:
    await deploy(api, log_flow(ns))
    execution_id = (await create(api, ns))["id"]
    _, runs = await move(
        services,
        execution_id,
        StateType.FAILED,
        {"first": StateType.SUCCESS, "second": StateType.FAILED},
    )
    ok, failed = runs
    for base in ("/api/v1", "/api/v1/main"):
        user = await api.get(f"{base}/executions/{execution_id}/taskruns/{ok.id}/outputs")
        assert user.status_code == 200
        assert user.json() == {"value": "first-out"}
        v2 = await api.get(f"{base}/outputs/{execution_id}/{ok.id}")
        assert v2.json() == {"value": "first-out"}
    empty = await api.get(f"/api/v1/executions/{execution_id}/taskruns/{failed.id}/outputs")
    assert empty.json() == {}
    every = (await api.get(f"/api/v1/outputs/{execution_id}")).json()
    assert every == [
        {"taskRunId": ok.id, "taskId": "first", "outputs": {"value": "first-out"}},
        {"taskRunId": failed.id, "taskId": "second", "outputs": None},
    ]
    assert (
        await api.get(f"/api/v1/executions/{execution_id}/taskruns/nope/outputs")
    ).status_code == 404
    assert (await api.get(f"/api/v1/outputs/{execution_id}/nope")).status_code == 404
    assert (await api.get("/api/v1/outputs/nope")).status_code == 404
    assert (await api.get(f"/api/v1/executions/nope/taskruns/{ok.id}/outputs")).status_code == 404
