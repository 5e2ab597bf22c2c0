"""The app in process over a real store (SQLite and PostgreSQL), driven by httpx."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from lanner.api.app import create_app
from lanner.api.context import Services
from lanner.config import Settings
from lanner.store import Store, open_store

USER, PASSWORD = "admin@example.com", "s3cret-pass"


@pytest.fixture
async def api_store(database_url: str) -> AsyncIterator[Store]:
    store = open_store(database_url)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        basic_auth_username=USER,
        basic_auth_password=PASSWORD,
    )


def client_for(settings: Settings, store: Store, **kwargs: object) -> httpx.AsyncClient:
    app = create_app(Services(settings=settings, store=store))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lanner.test", **kwargs
    )  # type: ignore[arg-type]


@pytest.fixture
async def client(settings: Settings, api_store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(settings, api_store, auth=(USER, PASSWORD)) as http:
        yield http


@pytest.fixture
async def anonymous(settings: Settings, api_store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(settings, api_store) as http:
        yield http


@pytest.fixture
def ns() -> str:
    """A namespace of this test's own, so tests never see each other's flows."""
    return f"io.lanner.t{uuid.uuid4().hex[:10]}"


# --- executions: one Services shared by the app and the test, an engine when a test needs one ---


@pytest.fixture
def services(settings: Settings, api_store: Store) -> Services:
    """The app's services, shared with the test (store, change feed)."""
    return Services(settings=settings, store=api_store)


def client_of(services: Services, **kwargs: object) -> httpx.AsyncClient:
    app = create_app(services)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lanner.test", **kwargs
    )  # type: ignore[arg-type]


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client on an app built over ``services``."""
    async with client_of(services, auth=(USER, PASSWORD)) as http:
        yield http


@pytest.fixture
async def anonymous_api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(services) as http:
        yield http
