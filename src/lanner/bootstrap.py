"""The one wiring point: settings → store → engine → API → HTTP server.

Nothing connects at import; :func:`run_local` does it all and undoes it on the way out.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import uvicorn

from lanner.api.app import create_app
from lanner.api.context import Services
from lanner.config import Settings
from lanner.encryption import cipher_of
from lanner.engine.feeds import ChangeFeed
from lanner.engine.retention import start_log_retention
from lanner.engine.runtime_functions import EngineRuntime
from lanner.engine.service import Engine
from lanner.storage import LocalStorage
from lanner.store import Store, open_store
from lanner.templating import TemplateEngine

log = logging.getLogger("lanner")

SHUTDOWN_GRACE_S = 10.0
"""On SIGTERM, running tasks get this long to finish; the rest are handed back to the queue."""


async def start_store(settings: Settings) -> Store:
    """An opened, migrated store for ``settings``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.effective_database_url)
    await store.start()
    return store


def build_engine(settings: Settings, store: Store, feed: ChangeFeed) -> Engine:
    """The engine with the runtime functions (secrets, KV, storage) and the template context
    (``envs``, ``globals``) of ``settings``; call on the event loop that will run it."""
    runtime = EngineRuntime(
        store,
        LocalStorage(settings.storage_dir),
        settings.secrets,
        cipher=cipher_of(settings.encryption_key),
    )
    return Engine(
        store,
        feed,
        templates=TemplateEngine(runtime=runtime),
        environ=settings.kestra_environ,
        globals_=settings.globals,
        masker=runtime.masks,
        decrypt=runtime.decrypt_input,
    )


async def describe_auth(settings: Settings, store: Store) -> str:
    if settings.is_basic_auth_enabled:
        return "basic auth (LANNER_BASIC_AUTH_USERNAME) and API tokens"
    if await store.count_active_tokens(datetime.now(UTC)) > 0:
        return "API tokens"
    return "OFF (set LANNER_BASIC_AUTH_USERNAME/PASSWORD or create an API token)"


async def run_local(settings: Settings) -> None:
    """Embedded mode: every role in this process, until SIGINT/SIGTERM."""
    store = await start_store(settings)
    feed = ChangeFeed()
    engine = build_engine(settings, store, feed)
    retention = start_log_retention(store, settings.log_retention)
    try:
        await engine.start()
        app = create_app(Services(settings=settings, store=store, feed=feed))
        backend = "PostgreSQL" if settings.database_url else "SQLite"
        log.info(
            "lanner listening on http://%s:%d (store: %s, auth: %s)",
            settings.host,
            settings.port,
            backend,
            await describe_auth(settings, store),
        )
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=int(SHUTDOWN_GRACE_S),
        )
        # uvicorn handles SIGINT/SIGTERM: it stops accepting, finishes requests, returns.
        await uvicorn.Server(config).serve()
    finally:
        if retention is not None:
            await retention.stop()
        await engine.stop(grace_s=SHUTDOWN_GRACE_S)
        await store.close()
