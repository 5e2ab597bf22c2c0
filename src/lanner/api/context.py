"""Per-request context: the tenant named by the path and the application's services.

Every route is served twice, ``/api/v1/...`` (tenant ``main``) and ``/api/v1/{tenant}/...``;
the dependencies here resolve which tenant a request is for.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import InitVar, dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from lanner.config import Settings
from lanner.encryption import secret_encrypter
from lanner.engine.feeds import ChangeFeed
from lanner.engine.submit import Submitter
from lanner.errors import NotFoundError
from lanner.storage import LocalStorage
from lanner.store import DEFAULT_TENANT, Store

TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

# Path segments that name a resource; a tenant cannot be called like one.
RESERVED_TENANTS = frozenset(
    {
        "flows",
        "executions",
        "logs",
        "namespaces",
        "configs",
        "plugins",
        "triggers",
        "kv",
        "secrets",
        "outputs",
        "stats",
        "metrics",
        "templates",
        "dashboards",
        "blueprints",
        "taskruns",
        "users",
        "tokens",
        "health",
        "ping",
        "me",
        "apps",
        "tenants",
    }
)


@dataclass(frozen=True, slots=True)
class Services:
    """What the routers need, built once by ``lanner.bootstrap``.

    ``feed`` wakes the engine (``WORK_TOPIC``) after the API queued work, and wakes waiters
    (``wait=true``, follow) when an execution changed. ``storage`` holds the internal files and
    ``submitter`` creates executions (the engine's one door): bootstrap hands its own down
    (``given_storage``, ``given_submitter``); otherwise they are built from ``settings``, and
    again by ``dataclasses.replace`` (another encryption key, another data directory).
    """

    settings: Settings
    store: Store
    feed: ChangeFeed = field(default_factory=ChangeFeed)
    given_storage: InitVar[LocalStorage | None] = None
    given_submitter: InitVar[Submitter | None] = None
    storage: LocalStorage = field(init=False)
    submitter: Submitter = field(init=False)
    #: Set when the server starts shutting down: open streams (follows) end on their own.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(
        self, given_storage: LocalStorage | None, given_submitter: Submitter | None
    ) -> None:
        storage = given_storage or LocalStorage(self.settings.storage_dir)
        submitter = given_submitter or Submitter(
            self.store,
            self.feed,
            storage=storage,
            encrypt=secret_encrypter(self.settings.encryption_key),
        )
        object.__setattr__(self, "storage", storage)
        object.__setattr__(self, "submitter", submitter)


# Async on purpose: FastAPI runs a sync dependency in a worker thread, a hop per request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_tenant(request: Request) -> str:
    tenant = request.path_params.get("tenant")
    if tenant is None:
        return DEFAULT_TENANT
    if not TENANT_PATTERN.match(tenant) or tenant in RESERVED_TENANTS:
        raise NotFoundError(f"Unknown tenant '{tenant}'")
    return str(tenant)


ServicesDep = Annotated[Services, Depends(get_services)]
TenantDep = Annotated[str, Depends(get_tenant)]
