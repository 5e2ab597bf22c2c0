"""The Basic check of the auth middleware: good credentials are remembered, bad ones never."""

from __future__ import annotations

import base64
from typing import Any, cast

import pytest

from lanner.api.auth import BASIC_CACHE_SIZE, Authenticator
from lanner.config import Settings
from lanner.store import TokenStore

pytestmark = pytest.mark.asyncio


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def authenticator() -> Authenticator:
    settings = Settings(basic_auth_username="admin", basic_auth_password="s3cret")
    return Authenticator(settings, cast(TokenStore, cast(Any, object())))


async def test_good_credentials_pass_again_and_bad_ones_never() -> None:
    auth = authenticator()
    for _ in range(3):
        assert await auth.is_authorized(basic("admin", "s3cret"))
        assert not await auth.is_authorized(basic("admin", "wrong"))
        assert not await auth.is_authorized(basic("root", "s3cret"))
        assert not await auth.is_authorized("Basic not-base64!")


async def test_only_good_credentials_are_remembered() -> None:
    auth = authenticator()
    for password in ("a", "b", "s3cret", "c"):
        await auth.is_authorized(basic("admin", password))
    assert auth._good_basic == {base64.b64encode(b"admin:s3cret").decode()}
    assert len(auth._good_basic) <= BASIC_CACHE_SIZE
