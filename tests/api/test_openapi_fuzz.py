"""schemathesis over the whole OpenAPI document, every check on, against the app in process.

The document is read from the app (``/api/openapi.json``); each operation gets a bounded,
derandomized run of generated requests (positive and negative), sent with Basic credentials to
an app over a real SQLite store, and every answer is checked against the document: status codes,
content types, response schemas, headers, ``Allow`` on 405, that bad input is refused and good
input accepted. Exclusions are narrow and each says why below.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from lanner.api.app import create_app
from lanner.api.context import Services
from lanner.config import Settings
from lanner.store import open_store

USER, PASSWORD = "admin@example.com", "s3cret-pass"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
MAX_EXAMPLES = 10
STREAM_READ_S = 0.2

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# Bodies that are flow YAML (or a namespace file's bytes made into a flow): the document can
# say "YAML text" but not "a valid Kestra flow", so a generated string that is schema-valid is
# rightly refused with 422 (Kestra does the same). Everything else is still checked for them.
SEMANTIC_BODY_OPERATIONS = frozenset(
    {
        ("POST", "/api/v1/flows"),
        ("PUT", "/api/v1/flows/{namespace}/{id}"),
        ("POST", "/api/v1/flows/{namespace}"),
        ("POST", "/api/v1/flows/bulk"),
        ("POST", "/api/v1/flows/import"),
    }
)


class StoreLifespan:
    """The app, with its store started and closed by the ASGI lifespan on schemathesis' loop."""

    def __init__(self, settings: Settings) -> None:
        self.store = open_store(settings.database_url)
        self.app = create_app(Services(settings=settings, store=self.store))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.store.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'lanner.db'}",
        basic_auth_username=USER,
        basic_auth_password=PASSWORD,
    )


# The document does not depend on the services: read it from an app whose store never starts.
_DOCUMENT_DIR = Path(tempfile.mkdtemp(prefix="lanner-openapi-"))
schema = schemathesis.openapi.from_asgi(
    "/api/openapi.json", StoreLifespan(_settings(_DOCUMENT_DIR))
)


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> StoreLifespan:
    return StoreLifespan(_settings(tmp_path_factory.mktemp("openapi-fuzz")))


def transport_for(path: str) -> dict[str, Any]:
    """Log follow streams never end (as Kestra's): read what a moment brings, then stop."""
    return {"timeout": STREAM_READ_S} if path.endswith("/follow") else {}


def repeats_a_scalar(case: schemathesis.Case) -> bool:
    """Whether a negative case only sent a scalar query parameter several times.

    On the wire ``?q=a&q=b`` is no "array instead of a string": servers bind one of the values
    (FastAPI the last, Micronaut the first), so the mutation is not a schema violation the
    server could see. An object in place of a scalar goes out the same way (its values as
    repeated parameters of that name).
    """
    operation = schema.raw_schema["paths"].get(case.path, {}).get(case.method.lower(), {})
    scalars = {
        p["name"]
        for p in operation.get("parameters", ())
        if p["in"] == "query" and p.get("schema", {}).get("type") != "array"
    }
    return any(
        isinstance(value, list | dict) and name in scalars
        for name, value in (case.query or {}).items()
    )


def excluded_for(case: schemathesis.Case) -> list[CheckFunction]:
    excluded: list[CheckFunction] = []
    if (case.method.upper(), case.path) in SEMANTIC_BODY_OPERATIONS:
        excluded.append(positive_data_acceptance)
    if repeats_a_scalar(case):
        excluded.append(negative_data_rejection)
    return excluded


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_answers_match_the_document(case: schemathesis.Case, live_app: StoreLifespan) -> None:
    case.call_and_validate(
        app=live_app,
        headers=AUTH,
        excluded_checks=excluded_for(case),
        **transport_for(case.path),
    )
