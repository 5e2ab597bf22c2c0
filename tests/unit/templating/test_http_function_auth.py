"""The ``http()`` function's ``options.auth``: what the request carries."""

from __future__ import annotations

import httpx
import pytest

from lanner.templating.errors import TemplateRenderError
from lanner.templating.http_function import _auth


def sent_authorization(options: dict[str, object]) -> str | None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=request.headers.get("Authorization", "-"))

    with httpx.Client(auth=_auth(options), transport=httpx.MockTransport(echo)) as client:
        return client.get("http://example.test/").text


def test_bearer_and_basic_auth_set_the_header() -> None:
    assert sent_authorization({"auth": {"type": "BEARER", "token": "s3cret"}}) == "Bearer s3cret"
    basic = sent_authorization({"auth": {"type": "basic", "username": "u", "password": "p"}})
    assert basic == "Basic dTpw"
    assert sent_authorization({}) == "-"


def test_an_unknown_auth_type_fails_rendering() -> None:
    with pytest.raises(TemplateRenderError, match=r"unsupported options\.auth\.type"):
        _auth({"auth": {"type": "DIGEST"}})
