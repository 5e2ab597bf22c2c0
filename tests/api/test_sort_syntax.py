"""Kestra's sort spellings (``field,desc`` and ``field:desc``) on every list route."""

from __future__ import annotations

import httpx
import pytest
from tests.api.executions_support import create, deploy, log_flow

from lanner.api.queries import parse_sort
from lanner.errors import IllegalArgumentError

FIELDS = ("id", "namespace", "state.startDate")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["state.startDate,desc"], [("state.startDate", True)]),
        (["state.startDate:desc"], [("state.startDate", True)]),
        (["id,asc,namespace,desc"], [("id", False), ("namespace", True)]),
        (["id:desc,namespace"], [("id", True), ("namespace", False)]),
        (["id", "namespace,DESC"], [("id", False), ("namespace", True)]),
    ],
)
def test_parse_sort_spellings(values: list[str], expected: list[tuple[str, bool]]) -> None:
    assert parse_sort(values, FIELDS) == expected


@pytest.mark.parametrize("values", [["desc"], ["id,desc,desc"], ["id:sideways"], ["nope,desc"]])
def test_parse_sort_refuses_the_rest(values: list[str]) -> None:
    with pytest.raises(IllegalArgumentError, match="invalid sort"):
        parse_sort(values, FIELDS)


@pytest.mark.asyncio
@pytest.mark.parametrize("spelling", ["{},desc", "{}:desc"])
async def test_every_list_route_takes_both_spellings(
    api: httpx.AsyncClient, ns: str, spelling: str
) -> None:
    for flow_id in ("a", "b", "c"):
        await deploy(api, log_flow(ns, flow_id))
    ids = [(await create(api, ns, flow_id))["id"] for flow_id in ("a", "b")]
    flows = await api.get(
        "/api/v1/flows/search", params={"namespace": ns, "sort": spelling.format("id")}
    )
    assert flows.status_code == 200, flows.text
    assert [f["id"] for f in flows.json()["results"]] == ["c", "b", "a"]
    for path, extra in (
        ("/api/v1/executions/search", {"namespace": ns}),
        ("/api/v1/executions", {"namespace": ns, "flowId": "a"}),
    ):
        response = await api.get(path, params={**extra, "sort": spelling.format("id")})
        assert response.status_code == 200, response.text
        got = [e["id"] for e in response.json()["results"]]
        assert got == sorted(got, reverse=True)
        assert set(got) <= set(ids)
    logs = await api.get(
        "/api/v1/logs/search", params={"namespace": ns, "sort": spelling.format("timestamp")}
    )
    assert logs.status_code == 200, logs.text
