"""Every route of the app, enumerated from the app itself, answers 401 without credentials,
except the documented open ones below; so a route added later is behind auth unless it is
added here with its reason."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount

from lanner.api.app import create_app
from lanner.api.context import Services
from lanner.config import Settings
from lanner.store import open_store

# Open without credentials, and why (the same list as lanner.api.auth.OPEN_PATHS/WEBHOOK_PATH).
OPEN_ROUTES = {
    "/health": "liveness probes of load balancers and orchestrators; says only 'UP'",
    "/ping": "the same probe under Kestra's other name",
    "/api": "the interactive API docs page: HTML with no data",
    "/api/openapi.json": "the API's document, read by SDK generators and fuzzers; no data",
    "/api/v1/executions/webhook/{namespace}/{id}/{key}": (
        "Kestra's webhook trigger: the flow's own secret key in the path authenticates it"
    ),
    "/api/v1/{tenant}/executions/webhook/{namespace}/{id}/{key}": "the same, tenant-prefixed",
}
PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")


def route_paths(app: FastAPI) -> Iterator[tuple[str, frozenset[str]]]:
    """Every (path template, methods) the app serves, included routers and mounts resolved."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is not None:  # FastAPI resolving included routers lazily
        for context in iterate(app.routes):
            yield context.path, frozenset(context.methods or {"GET"})
        return

    def walk(routes: list[BaseRoute], prefix: str) -> Iterator[tuple[str, frozenset[str]]]:
        for route in routes:
            if isinstance(route, Mount):
                yield from walk(list(route.routes), prefix + route.path)
            else:
                path = getattr(route, "path", "")
                yield prefix + path, frozenset(getattr(route, "methods", None) or {"GET"})

    yield from walk(list(app.routes), "")


def concrete(template: str) -> str:
    return PARAMETER.sub(lambda m: "main" if m.group(1) == "tenant" else "x", template)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data_dir: Path = tmp_path_factory.mktemp("route-auth")
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'lanner.db'}",
        basic_auth_username="admin@example.com",
        basic_auth_password="route-auth-pass",
    )
    return create_app(Services(settings=settings, store=open_store(settings.database_url)))


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    store = app.state.services.store
    await store.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lanner.test") as http:
            yield http
    finally:
        await store.close()


async def test_every_route_needs_credentials_but_the_documented_open_ones(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    routes = sorted(set(route_paths(app)))
    templates = {path for path, _ in routes}
    # The enumeration reaches the UI, /metrics, webhooks and the tenant-prefixed copies.
    assert {"/ui/", "/metrics", "/api/v1/{tenant}/flows/search"} <= templates
    assert set(OPEN_ROUTES) <= templates
    assert len(routes) > 200
    wrongly_open: list[str] = []
    for template, methods in routes:
        for method in sorted(methods - {"HEAD"}):
            response = await anonymous.request(method, concrete(template))
            if template in OPEN_ROUTES:
                assert response.status_code != 401, f"{method} {template} should be open"
                continue
            if response.status_code != 401:
                wrongly_open.append(f"{method} {template} → {response.status_code}")
                continue
            assert response.headers["www-authenticate"].startswith("Basic")
            assert response.json()["message"] == "Unauthorized"
    assert wrongly_open == []


async def test_wrong_credentials_are_refused_on_every_kind_of_route(
    anonymous: httpx.AsyncClient,
) -> None:
    for path in ("/ui/", "/metrics", "/health/streams", "/api/v1/main/flows/search"):
        for auth in (("admin@example.com", "wrong"), ("someone", "route-auth-pass")):
            assert (await anonymous.get(path, auth=auth)).status_code == 401
        assert (
            await anonymous.get(path, headers={"Authorization": "Bearer lnr_x"})
        ).status_code == 401
