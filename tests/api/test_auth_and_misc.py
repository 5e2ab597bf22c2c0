"""Authentication (basic, bearer tokens, open paths) and the misc endpoints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import PASSWORD, USER, client_for

from lanner.api.auth import hash_token, new_token_secret
from lanner.config import Settings
from lanner.store import ApiToken, Store, open_store

pytestmark = pytest.mark.asyncio


async def add_token(store: Store, *, expires_in: timedelta | None = None) -> str:
    secret = new_token_secret()
    now = datetime.now(UTC)
    await store.add_token(
        ApiToken(
            id=uuid.uuid4().hex,
            name=f"t-{uuid.uuid4().hex[:8]}",
            token_hash=hash_token(secret),
            created=now,
            expires=now + expires_in if expires_in is not None else None,
        )
    )
    return secret


async def test_missing_credentials_are_401(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/api/v1/flows/search")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.json()["message"] == "Unauthorized"


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + "d3Jvbmc6d3Jvbmc=",  # wrong:wrong
        "Basic not-base64!",
        "Bearer lnr_unknown",
        "Digest abc",
    ],
)
async def test_wrong_credentials_are_401(anonymous: httpx.AsyncClient, header: str) -> None:
    response = await anonymous.get("/api/v1/flows/search", headers={"Authorization": header})
    assert response.status_code == 401


async def test_wrong_password_is_401(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/api/v1/flows/search", auth=(USER, PASSWORD + "x"))
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/health", "/ping", "/api/openapi.json", "/api"])
async def test_open_paths_need_no_credentials(anonymous: httpx.AsyncClient, path: str) -> None:
    response = await anonymous.get(path)
    assert response.status_code == 200


async def test_webhook_path_is_open(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post("/api/v1/executions/webhook/ns/flow/key")
    assert response.status_code != 401


async def test_bearer_token_works_and_expired_or_revoked_do_not(
    anonymous: httpx.AsyncClient, api_store: Store
) -> None:
    good = await add_token(api_store)
    ok = await anonymous.get("/api/v1/flows/search", headers={"Authorization": f"Bearer {good}"})
    assert ok.status_code == 200
    expired = await add_token(api_store, expires_in=timedelta(seconds=-1))
    gone = await anonymous.get(
        "/api/v1/flows/search", headers={"Authorization": f"Bearer {expired}"}
    )
    assert gone.status_code == 401
    revoked = await add_token(api_store)
    names = {t.token_hash: t.name for t in await api_store.list_tokens()}
    assert await api_store.revoke_token(names[hash_token(revoked)])
    refused = await anonymous.get(
        "/api/v1/flows/search", headers={"Authorization": f"Bearer {revoked}"}
    )
    assert refused.status_code == 401


async def test_without_basic_auth_tokens_turn_auth_on(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'auth.db'}")
    await store.start()
    try:
        async with client_for(settings, store) as before:
            assert (await before.get("/api/v1/flows/search")).status_code == 200
        secret = await add_token(store)
        # A new app: the active-token count is cached for a moment in a running one.
        async with client_for(settings, store) as after:
            assert (await after.get("/api/v1/flows/search")).status_code == 401
            bearer = {"Authorization": f"Bearer {secret}"}
            assert (await after.get("/api/v1/flows/search", headers=bearer)).status_code == 200
    finally:
        await store.close()


async def test_health_and_ping(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/health")).json()["status"] == "UP"
    assert (await anonymous.get("/ping")).text == "pong"


@pytest.mark.parametrize("path", ["/api/v1/configs", "/api/v1/main/configs"])
async def test_configs(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["version"].startswith("1.3")
    assert body["isBasicAuthEnabled"] is True


async def test_unknown_route_is_404_with_kestra_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing/here/at/all")
    assert response.status_code == 404
    assert response.json()["message"].startswith("Not Found")


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v1/flows/search")
    assert response.status_code == 405
