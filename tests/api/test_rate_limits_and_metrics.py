"""Rate limiting (token buckets per client and route group), the follow-stream limit, and
``/metrics`` scraped and parsed, on the app in process over a real store (both backends)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.api.conftest import PASSWORD, USER, client_of
from tests.api.executions_support import create, deploy, log_flow

from lanner.api.app import create_app
from lanner.api.context import Services
from lanner.api.observability import FollowStreamLimit
from lanner.api.ratelimit import RateLimitMiddleware, client_identity, route_group
from lanner.config import Settings, parse_rate_limit
from lanner.errors import ConfigError


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited_services(settings: Settings, services: Services) -> Services:
    rates = parse_rate_limit("reads=3/min,writes=2/min,executions=1/min", "test")
    return replace(services, settings=replace(settings, rate_limit=rates))


@pytest.fixture
async def rated(limited_services: Services) -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    app = create_app(limited_services)
    clock = Clock()
    app.state.rate_limiter.clock = clock
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://lanner.test", auth=(USER, PASSWORD)
    ) as http:
        http.app_transport = transport  # type: ignore[attr-defined]
        yield http, clock


def assert_429(response: httpx.Response, group: str, retry_after: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(retry_after)
    body = response.json()
    assert body["message"].startswith("Too Many Requests")
    assert group in body["message"]
    assert "rate-limit" in body["message"]
    assert body["_links"]["self"]["href"] == response.request.url.path


async def test_the_n_plus_first_read_is_429_then_allowed_after_refill(
    rated: tuple[httpx.AsyncClient, Clock],
) -> None:
    http, clock = rated
    for _ in range(3):
        assert (await http.get("/api/v1/flows/search")).status_code == 200
    # 3 a minute: one token every 20 s.
    assert_429(await http.get("/api/v1/flows/search"), "reads", 20)
    clock.now += 19.0
    assert_429(await http.get("/api/v1/flows/search"), "reads", 1)
    clock.now += 1.0
    assert (await http.get("/api/v1/flows/search")).status_code == 200
    assert (await http.get("/api/v1/flows/search")).status_code == 429


async def test_groups_and_clients_have_buckets_of_their_own(
    rated: tuple[httpx.AsyncClient, Clock], ns: str
) -> None:
    http, _ = rated
    for _ in range(3):
        await http.get("/api/v1/flows/search")
    assert (await http.get("/api/v1/flows/search")).status_code == 429
    # Writes still have their 2 tokens, executions its 1.
    assert (await deploy(http, log_flow(ns)))["id"] == "hello"
    bad = await http.post(
        "/api/v1/flows/validate", content="x: [", headers={"Content-Type": "application/x-yaml"}
    )
    assert bad.status_code != 429
    assert_429(await http.post("/api/v1/flows/validate", content="x"), "writes", 30)
    assert (await http.post(f"/api/v1/executions/{ns}/hello")).status_code == 200
    assert_429(await http.post(f"/api/v1/executions/{ns}/hello"), "executions", 60)
    # Another client (no credentials: its address) is not held back: auth answers it.
    async with httpx.AsyncClient(
        transport=http.app_transport, base_url="http://lanner.test"
    ) as anonymous:  # type: ignore[attr-defined]
        assert (await anonymous.get("/api/v1/flows/search")).status_code == 401
        assert (await anonymous.get("/health")).status_code == 200


async def test_health_is_never_limited(rated: tuple[httpx.AsyncClient, Clock]) -> None:
    http, _ = rated
    answers = [(await http.get("/health")).status_code for _ in range(10)]
    assert answers == [200] * 10


async def test_rate_limiting_is_off_by_default_with_no_middleware(services: Services) -> None:
    app = create_app(services)
    assert services.settings.rate_limit is None
    assert app.state.rate_limiter is None
    assert all(m.cls is not RateLimitMiddleware for m in app.user_middleware)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("on", {"reads": (1200, 60.0), "writes": (300, 60.0)}),
        ("writes=10/s", {"writes": (10, 1.0), "reads": (1200, 60.0)}),
        ("follow=5/h, executions=7", {"follow": (5, 3600.0), "executions": (7, 60.0)}),
    ],
)
def test_rate_limit_specs(spec: str, expected: dict[str, tuple[int, float]]) -> None:
    limits = parse_rate_limit(spec, "test")
    assert limits is not None
    for group, rate in expected.items():
        assert limits.rates[group] == rate


@pytest.mark.parametrize("spec", ["writes", "bogus=1/min", "reads=0/min", "reads=1/week"])
def test_bad_rate_limit_specs_name_the_setting(spec: str) -> None:
    with pytest.raises(ConfigError, match="rate-limit"):
        parse_rate_limit(spec, "environment")
    assert parse_rate_limit("off", "environment") is None


def test_identities_and_groups() -> None:
    def scope(method: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        return {"method": method, "headers": headers, "client": ("10.1.2.3", 5000)}

    token = client_identity(scope("GET", [(b"authorization", b"Bearer lnr_secret")]))
    assert token.startswith("token:")
    assert "lnr_secret" not in token
    assert client_identity(scope("GET", [(b"authorization", b"Basic dTE6cHc=")])) == "user:u1"
    assert client_identity(scope("GET", [])) == "ip:10.1.2.3"
    assert route_group("GET", "/api/v1/executions/x/follow") == "follow"
    assert route_group("GET", "/api/v1/main/logs/x/follow") == "follow"
    assert route_group("POST", "/api/v1/main/executions/ns/f") == "executions"
    assert route_group("POST", "/api/v1/executions/webhook/ns/f/k") == "executions"
    assert route_group("DELETE", "/api/v1/flows/ns/f") == "writes"
    assert route_group("HEAD", "/api/v1/flows/search") == "reads"


# --- follow streams -------------------------------------------------------------------------


async def test_a_client_past_its_follow_streams_gets_429_and_a_slot_again_once_one_ends() -> None:
    release = asyncio.Event()
    started: list[str] = []
    progress = asyncio.Event()

    async def until_started(count: int) -> None:
        while len(started) < count:
            await progress.wait()
            progress.clear()

    async def streaming(scope: dict[str, Any], receive: Any, send: Any) -> None:
        started.append(scope["path"])
        progress.set()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await release.wait()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    limit = FollowStreamLimit(streaming, max_streams=2)

    async def call(path: str, user: bytes = b"dTE6cHc=") -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http", "method": "GET", "path": path, "query_string": b"",
            "headers": [(b"authorization", b"Basic " + user)], "client": ("127.0.0.1", 1),
        }  # fmt: skip

        async def receive() -> dict[str, Any]:
            await asyncio.Event().wait()
            return {}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await limit(scope, receive, send)
        return sent

    streams = [asyncio.create_task(call(f"/api/v1/executions/e{i}/follow")) for i in range(2)]
    await until_started(2)
    refused = await call("/api/v1/logs/e3/follow")
    assert refused[0]["status"] == 429
    assert (b"retry-after", b"5") in refused[0]["headers"]
    assert b"max-follow-streams" in refused[1]["body"]
    other_user = asyncio.create_task(call("/api/v1/logs/e4/follow", b"dTI6cHc="))
    await until_started(3)
    assert limit.open == {"user:u1": 2, "user:u2": 1}
    release.set()
    await asyncio.gather(*streams, other_user)
    assert limit.open == {}
    assert (await call("/api/v1/logs/e5/follow"))[0]["status"] == 200


# --- /metrics -------------------------------------------------------------------------------


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


async def test_metrics_are_scraped_and_parse(api: httpx.AsyncClient, ns: str) -> None:
    await deploy(api, log_flow(ns))
    execution = await create(api, ns)
    assert (await api.get(f"/api/v1/executions/{execution['id']}")).status_code == 200
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = families(response.text)
    states = {s.labels["state"]: s.value for s in found["lanner_executions"].samples}
    assert states.get("CREATED", 0) >= 1
    kinds = {s.labels["kind"] for s in found["lanner_queue_depth"].samples}
    assert "events" in kinds
    assert "lanner_log_backlog_lines" in found
    assert "lanner_task_duration_seconds" in found
    routes = {
        s.labels["route"]
        for s in found["lanner_http_request_duration_seconds"].samples
        if s.name.endswith("_count")
    }
    # The route template, never the raw path (ids would make the label set unbounded).
    assert "/api/v1/executions/{executionId}" in routes
    assert f"/api/v1/executions/{execution['id']}" not in routes
    assert "/api/v1/executions/{namespace}/{id}" in routes


async def test_metrics_need_credentials_unless_opened(services: Services) -> None:
    async with client_of(services) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    opened = replace(services, settings=replace(services.settings, metrics="open"))
    async with client_of(opened) as anonymous:
        response = await anonymous.get("/metrics")
        assert response.status_code == 200
        assert "lanner_executions" in families(response.text)
        assert (await anonymous.get("/api/v1/flows/search")).status_code == 401
    off = replace(services, settings=replace(services.settings, metrics="off"))
    async with client_of(off, auth=(USER, PASSWORD)) as http:
        assert (await http.get("/metrics")).status_code == 404


async def test_a_tenant_route_is_labelled_by_its_template(api: httpx.AsyncClient) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    assert (await api.get(f"/api/v1/{tenant}/flows/search")).status_code == 200
    found = families((await api.get("/metrics")).text)
    routes = {s.labels["route"] for s in found["lanner_http_request_duration_seconds"].samples}
    assert "/api/v1/{tenant}/flows/search" in routes
    assert not any(tenant in route for route in routes)


async def test_the_document_names_429_where_it_can_be_answered(
    services: Services, limited_services: Services
) -> None:
    async with client_of(services) as http:
        paths = (await http.get("/api/openapi.json")).json()["paths"]
    follow = paths["/api/v1/executions/{executionId}/follow"]["get"]["responses"]
    assert "Retry-After" in follow["429"]["headers"]
    assert "429" not in paths["/api/v1/flows/search"]["get"]["responses"]
    async with client_of(limited_services) as http:
        paths = (await http.get("/api/openapi.json")).json()["paths"]
    assert "429" in paths["/api/v1/flows/search"]["get"]["responses"]
    assert "429" in paths["/api/v1/executions/{namespace}/{id}"]["post"]["responses"]
    assert "429" not in paths["/health"]["get"]["responses"]
