"""The lean create route (``lanner.api.lean_routes``): which requests it takes, and that its
answers are the FastAPI route's."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Match
from tests.api.executions_support import deploy

from lanner.api.context import Services
from lanner.api.lean_routes import LeanCreateRoute

FLOW = """\
id: hello
namespace: {ns}
inputs:
  - id: who
    type: INT
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.who }}}}"
"""


def lean_route(api: httpx.AsyncClient, *, with_tenant: bool) -> LeanCreateRoute:
    transport = api._transport
    app: FastAPI = transport.app  # type: ignore[attr-defined]
    routes = [r for r in app.router.routes if isinstance(r, LeanCreateRoute)]
    assert len(routes) == 2
    return routes[1] if with_tenant else routes[0]


def scope(path: str, query: str = "", method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "query_string": query.encode()}


@pytest.mark.parametrize(
    ("path", "query", "taken"),
    [
        ("/api/v1/executions/company.team/hello", "", True),
        ("/api/v1/executions/company.team/hello", "wait=true", True),
        ("/api/v1/executions/company.team/hello", "wait=false&labels=a:b&labels=c:d", True),
        ("/api/v1/executions/company.team/hello", "wait=1", False),  # FastAPI parses it
        ("/api/v1/executions/company.team/hello", "revision=2", False),
        ("/api/v1/executions/company.team/hello", "scheduleDate=2030-01-01T00:00:00Z", False),
        ("/api/v1/executions/Company/hello", "", False),  # not a namespace: FastAPI's 4xx
        ("/api/v1/executions/company.team/hello/", "", False),
        ("/api/v1/executions/company.team", "", False),
        ("/api/v1/executions/trigger/company.team/hello", "", False),
        # Other POST routes of the same shape stay theirs.
        ("/api/v1/executions/4abc9QcD1xR2/restart", "", False),
        ("/api/v1/executions/restart/by-ids", "", False),
        ("/api/v1/executions/4abc9QcD1xR2/replay", "", False),
    ],
)
async def test_the_tenant_less_route_takes_only_the_plain_create_request(
    api: httpx.AsyncClient, path: str, query: str, taken: bool
) -> None:
    match, child = lean_route(api, with_tenant=False).matches(scope(path, query))
    assert (match is Match.FULL) is taken
    if taken:
        assert child["path_params"] == dict(
            zip(("namespace", "id"), path.split("/")[-2:], strict=True)
        )


@pytest.mark.parametrize(
    ("path", "taken"),
    [
        ("/api/v1/acme/executions/company.team/hello", True),
        ("/api/v1/main/executions/company.team/hello", True),
        ("/api/v1/Acme/executions/company.team/hello", False),
        ("/api/v1/acme/executions/4abc9QcD1xR2/restart", False),
        ("/api/v1/executions/company.team/hello", False),
    ],
)
async def test_the_tenant_route_checks_the_tenant(
    api: httpx.AsyncClient, path: str, taken: bool
) -> None:
    route = lean_route(api, with_tenant=True)
    match, child = route.matches(scope(path))
    assert (match is Match.FULL) is taken
    assert route.matches(scope(path, method="GET"))[0] is Match.NONE
    if taken:
        assert child["path_params"]["tenant"] == path.split("/")[3]


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """An answer without what differs between two executions (its id, dates)."""
    same: dict[str, Any] = json.loads(json.dumps(body).replace(body["id"], "<id>"))
    same["state"] = same["state"]["current"]
    same["metadata"].pop("originalCreatedDate")
    return same


async def test_answers_are_the_fastapi_routes(
    api: httpx.AsyncClient, services: Services, ns: str
) -> None:
    await deploy(api, FLOW.format(ns=ns))
    lean_path = f"/api/v1/executions/{ns}/hello"
    # An unknown parameter (ignored by FastAPI) sends the same request through FastAPI.
    cases: list[tuple[str, dict[str, Any]]] = [
        ("", {"data": {"who": "7"}}),
        ("labels=team:a", {"data": {"who": "7"}}),
        ("", {"data": {"who": "seven"}}),  # 422 naming the input
        ("", {}),  # 422: required input missing
    ]
    for query, kwargs in cases:
        lean = await api.post(f"{lean_path}?{query}", **kwargs)
        slow = await api.post(f"{lean_path}?{query}&fastapi=1", **kwargs)
        assert lean.status_code == slow.status_code, (query, kwargs)
        assert lean.headers["content-type"] == slow.headers["content-type"]
        if lean.status_code == 200:
            assert comparable(lean.json()) == comparable(slow.json())
            assert lean.json()["url"].endswith(f"/executions/{ns}/hello/{lean.json()['id']}")
        else:
            assert lean.json() == slow.json()
    for path in (f"/api/v1/executions/{ns}/missing", f"/api/v1/acme/executions/{ns}/hello"):
        lean = await api.post(path, data={"who": "1"})
        slow = await api.post(f"{path}?fastapi=1", data={"who": "1"})
        assert lean.status_code == slow.status_code == 404
        assert lean.json()["message"] == slow.json()["message"]


async def test_a_restart_is_still_a_restart(api: httpx.AsyncClient, ns: str) -> None:
    """``POST /executions/{id}/restart`` has the create request's shape: it is not taken."""
    response = await api.post("/api/v1/executions/4abc9QcD1xR2/restart")
    assert response.status_code == 404
    assert "4abc9QcD1xR2" in response.json()["message"]  # the execution, not a flow
