"""The one wiring point: settings → store → engine → API → HTTP server.

Nothing connects at import; :func:`run_local` (embedded: every role in one process) and
:func:`run_role` (multi-node: one role — ``api``, ``executor`` or ``worker`` — per process,
PostgreSQL only, the change feed bridged by ``LISTEN/NOTIFY``) do it all and undo it on the
way out. The API (FastAPI, uvicorn, the routers, the UI, MCP) is imported by
:func:`serve_http` only, so the executor, worker and scheduler roles never load it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from lanner.config import Settings
from lanner.encryption import cipher_of, secret_encrypter
from lanner.engine import resilience
from lanner.engine.events import JOBS_TOPIC
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed
from lanner.engine.retention import start_history_retention, start_log_retention
from lanner.engine.runtime_functions import EngineRuntime
from lanner.engine.scheduler import Scheduler
from lanner.engine.service import DEFAULT_WORKER_CONCURRENCY, Engine, ExecutorService, WorkerService
from lanner.engine.submit import Submitter
from lanner.health import HealthServer
from lanner.storage import LocalStorage
from lanner.store import Store, open_store
from lanner.templating import TemplateEngine, TemplateLimits

log = logging.getLogger("lanner")

Role = Literal["api", "executor", "worker", "scheduler"]

SHUTDOWN_GRACE_S = 10.0
"""On SIGTERM, running tasks get this long to finish; the rest are handed back to the queue."""


async def start_store(settings: Settings) -> Store:
    """An opened, migrated store for ``settings``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.effective_database_url, count_bound=settings.search_count_bound)
    await store.start()
    return store


def build_storage(settings: Settings) -> LocalStorage:
    """The internal storage of ``settings`` (built once, handed to the API and the engine)."""
    return LocalStorage(settings.storage_dir)


def build_runtime(
    settings: Settings, store: Store, storage: LocalStorage | None = None
) -> EngineRuntime:
    """The runtime functions (secrets, KV, storage) of ``settings``."""
    return EngineRuntime(
        store,
        storage or build_storage(settings),
        settings.secrets,
        cipher=cipher_of(settings.encryption_key),
    )


def build_templates(settings: Settings, runtime: EngineRuntime | None) -> TemplateEngine:
    """The template engine with the render bounds of ``settings``."""
    limits = TemplateLimits(
        max_output_chars=settings.template_max_output_chars,
        max_loop_iterations=settings.template_max_loop_iterations,
        timeout_s=settings.template_timeout,
    )
    return TemplateEngine(runtime=runtime, limits=limits)


def build_submitter(
    settings: Settings,
    store: Store,
    feed: ChangeFeed,
    storage: LocalStorage,
    templates: TemplateEngine | None = None,
) -> Submitter:
    """The engine's one door for new executions (the API, subflows, triggers): SECRET inputs
    encrypted with the server key, uploads kept in ``storage``, ``templates`` for inputs'
    ``dependsOn`` and defaults."""
    return Submitter(
        store,
        feed,
        storage=storage,
        encrypt=secret_encrypter(settings.encryption_key),
        templates=templates,
    )


def task_options(settings: Settings, runtime: EngineRuntime) -> dict[str, Any]:
    """What every task runner takes from the settings and the runtime: the template ``envs``
    and ``globals``, secret masking, SECRET input decryption, the output size limit."""
    return {
        "environ": settings.kestra_environ,
        "globals_": settings.globals,
        "masker": runtime.masks,
        "decrypt": runtime.decrypt_input,
        "max_output_bytes": settings.max_task_output_bytes,
    }


def build_engine(
    settings: Settings,
    store: Store,
    feed: ChangeFeed,
    *,
    runtime: EngineRuntime | None = None,
    submitter: Submitter | None = None,
) -> Engine:
    """The engine with the runtime functions (secrets, KV, storage) and the template context
    (``envs``, ``globals``) of ``settings``; call on the event loop that will run it."""
    runtime = runtime or build_runtime(settings, store)
    templates = build_templates(settings, runtime)
    if submitter is None:
        submitter = build_submitter(settings, store, feed, runtime.storage, templates)
    return Engine(
        store,
        feed,
        templates=templates,
        submitter=submitter,
        storage=runtime.storage,
        **task_options(settings, runtime),
        lease_s=settings.worker_lease,
    )


def build_worker(
    settings: Settings, store: Store, feed: ChangeFeed, concurrency: int
) -> WorkerService:
    """The worker role; its id names this process (a dead one's jobs return by lease expiry)."""
    storage = build_storage(settings)
    runtime = build_runtime(settings, store, storage)
    templates = build_templates(settings, runtime)
    return WorkerService(
        store,
        feed,
        worker_id=f"{socket.gethostname()}/worker-{os.getpid()}",
        templates=templates,
        concurrency=concurrency,
        submitter=build_submitter(settings, store, feed, storage, templates),
        storage=storage,
        **task_options(settings, runtime),
        lease_s=settings.worker_lease,
    )


def build_scheduler(
    store: Store, feed: ChangeFeed, submitter: Submitter, *, holder: str | None = None
) -> Scheduler:
    """The scheduler role (schedule triggers); ``holder`` names its lease (default: this
    process)."""
    return Scheduler(
        store, submitter, feed, holder=holder or f"{socket.gethostname()}/scheduler-{os.getpid()}"
    )


async def describe_auth(settings: Settings, store: Store) -> str:
    if settings.is_basic_auth_enabled:
        return "basic auth (LANNER_BASIC_AUTH_USERNAME) and API tokens"
    if await store.count_active_tokens(datetime.now(UTC)) > 0:
        return "API tokens"
    return "OFF (set LANNER_BASIC_AUTH_USERNAME/PASSWORD or create an API token)"


async def run_local(settings: Settings) -> None:
    """Embedded mode: every role in this process, until SIGINT/SIGTERM."""
    resilience.set_outage_limit(settings.store_outage_limit)
    store = await start_store(settings)
    feed = ChangeFeed()
    storage = build_storage(settings)
    runtime = build_runtime(settings, store, storage)
    # One door for the API and the engine's subflows, with the server functions for inputs.
    submitter = build_submitter(settings, store, feed, storage, build_templates(settings, runtime))
    engine = build_engine(settings, store, feed, runtime=runtime, submitter=submitter)
    # A stable holder: after a crash, the next start takes its own lease back at once.
    scheduler = build_scheduler(store, feed, submitter, holder=f"{socket.gethostname()}/embedded")
    retention = start_log_retention(store, settings.log_retention)
    history = start_history_retention(
        store, settings.execution_retention, settings.max_executions, storage
    )
    try:
        await engine.start()
        await scheduler.start()
        await serve_http(settings, store, feed, storage=storage, submitter=submitter)
    finally:
        if history is not None:
            await history.stop()
        if retention is not None:
            await retention.stop()
        await scheduler.stop()
        await engine.stop(grace_s=SHUTDOWN_GRACE_S)
        await store.close()


async def serve_http(
    settings: Settings,
    store: Store,
    feed: ChangeFeed,
    *,
    storage: LocalStorage | None = None,
    submitter: Submitter | None = None,
) -> None:
    """The API on ``settings.host:port`` until SIGINT/SIGTERM."""
    import uvicorn

    from lanner.api.app import create_app
    from lanner.api.context import Services
    from lanner.api.http_protocol import bounded_httptools
    from lanner.api.server import Server

    storage = storage or build_storage(settings)
    if submitter is None:
        runtime = build_runtime(settings, store, storage)
        templates = build_templates(settings, runtime)
        submitter = build_submitter(settings, store, feed, storage, templates)
    services = Services(settings, store, feed, given_storage=storage, given_submitter=submitter)
    app = create_app(services)
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
        lifespan="on",  # the app's lifespan runs the MCP server's session manager
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE_S),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        http=bounded_httptools(settings.max_header_bytes),  # httptools, with a head bound
    )
    # uvicorn handles SIGINT/SIGTERM: it stops accepting, finishes requests, returns.
    await Server(config, stopping=services.stopping).serve()


async def run_role(
    settings: Settings, role: Role, *, worker_concurrency: int = DEFAULT_WORKER_CONCURRENCY
) -> None:
    """Multi-node mode: one role in this process against PostgreSQL, until SIGINT/SIGTERM.

    ``api`` serves HTTP only, ``executor`` advances executions while it is the leader (a hot
    standby otherwise), ``worker`` runs queued jobs, ``scheduler`` starts schedule triggers'
    executions while it holds the scheduler lease (standing by otherwise). Every role bridges its change feed to the
    other processes (``LISTEN/NOTIFY``)."""
    from lanner.store.sqlalchemy.engines import set_application_name
    from lanner.store.sqlalchemy.leadership import AdvisoryLock
    from lanner.store.sqlalchemy.notifications import PostgresNotifier, postgres_conninfo

    # ``lanner cluster status`` finds this process by its sessions' name.
    set_application_name(f"lanner {role} {socket.gethostname().replace(' ', '-')} {os.getpid()}")

    database_url = settings.effective_database_url
    postgres_conninfo(database_url, purpose=f"`lanner server {role}`")  # fail before opening
    resilience.set_outage_limit(settings.store_outage_limit)
    fatal: BaseException | None = None
    store = await start_store(settings)
    feed = ChangeFeed()
    # Reconnected: wake-ups may have been missed, so the loops re-read the store.
    notifier = PostgresNotifier(
        database_url,
        lambda topics: feed.publish_local(*topics),
        on_connect=lambda: feed.publish_local(WORK_TOPIC, JOBS_TOPIC),
    )
    try:
        await notifier.start()
        feed.forward_to(notifier.send)
        log.info("lanner %s node %s (store: PostgreSQL)", role, notifier.node_id)
        if role == "api":
            await serve_http(settings, store, feed)
        elif role == "executor":
            storage = build_storage(settings)
            runtime = build_runtime(settings, store, storage)
            templates = build_templates(settings, runtime)
            executor = ExecutorService(
                store,
                feed,
                AdvisoryLock(database_url),
                submitter=build_submitter(settings, store, feed, storage, templates),
                templates=templates,
                storage=storage,
                **task_options(settings, runtime),
            )
            retention = start_log_retention(store, settings.log_retention)
            history = start_history_retention(
                store,
                settings.execution_retention,
                settings.max_executions,
                build_storage(settings),
            )
            await executor.start()
            health = await start_health(
                settings, store, role, notifier.node_id, lambda: {"leader": executor.is_leader}
            )
            try:
                fatal = await wait_for_stop()
            finally:
                if health is not None:
                    await health.close()
                if history is not None:
                    await history.stop()
                if retention is not None:
                    await retention.stop()
                await executor.stop(grace_s=SHUTDOWN_GRACE_S)
        elif role == "scheduler":
            storage = build_storage(settings)
            runtime = build_runtime(settings, store, storage)
            templates = build_templates(settings, runtime)
            submitter = build_submitter(settings, store, feed, storage, templates)
            scheduler = build_scheduler(store, feed, submitter)
            await scheduler.start()
            health = await start_health(
                settings, store, role, notifier.node_id, lambda: {"leader": scheduler.is_leader}
            )
            try:
                fatal = await wait_for_stop()
            finally:
                if health is not None:
                    await health.close()
                await scheduler.stop()
        else:
            worker = build_worker(settings, store, feed, worker_concurrency)
            await worker.start()
            health = await start_health(
                settings, store, role, notifier.node_id, lambda: worker_health(worker)
            )
            try:
                fatal = await wait_for_stop()
            finally:
                if health is not None:
                    await health.close()
                await worker.stop(grace_s=SHUTDOWN_GRACE_S)
    finally:
        feed.forward_to(None)
        await notifier.close()
        await store.close()
    if fatal is not None:  # exits non-zero: a supervisor restarts the process
        raise fatal


async def start_health(
    settings: Settings,
    store: Store,
    role: Role,
    node: str,
    describe: Callable[[], Mapping[str, Any]],
) -> HealthServer | None:
    """``GET /health`` of a role on ``settings.health_port`` (None: not asked for)."""
    if settings.health_port is None:
        return None
    health = HealthServer(
        store,
        role=role,
        node=node,
        host=settings.host,
        port=settings.health_port,
        describe=describe,
    )
    await health.start()
    return health


def worker_health(service: WorkerService) -> dict[str, Any]:
    worker = service.worker
    return {
        "worker": {
            "id": worker.worker_id,
            "running": worker.running_count,
            "concurrency": worker.concurrency,
            "leaseSeconds": worker.lease_s,
        }
    }


async def wait_for_stop() -> BaseException | None:
    """Return at the first SIGINT or SIGTERM (None), or with the error a loop of this process
    gave up on (:func:`lanner.engine.resilience.give_up`)."""
    signalled = asyncio.create_task(wait_for_signal())
    fatal = asyncio.create_task(resilience.wait_fatal())
    try:
        await asyncio.wait({signalled, fatal}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        signalled.cancel()
        fatal.cancel()
        await asyncio.gather(signalled, fatal, return_exceptions=True)
    if fatal.done() and not fatal.cancelled():
        return fatal.result()
    return None


async def wait_for_signal() -> None:
    """Return at the first SIGINT or SIGTERM."""
    received = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, received.set)
    try:
        await received.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
