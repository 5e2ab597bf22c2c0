"""``Engine``: the executor loop and a worker pool in this process, started and stopped as one.

``start()`` hands back this worker's jobs left by a previous run (and any job whose lease
expired), then runs the loop — which picks up every persisted event, so executions accepted
before a crash go on — and the worker. ``stop(grace_s)`` is the SIGTERM path: stop claiming,
let running tasks finish within the grace period, hand the rest back, stop the loop.
Imports the store protocols, templating and this package.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from lanner.engine.context import kestra_envs
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed
from lanner.engine.jobs import JobRunner
from lanner.engine.loop import ExecutorLoop, utc_now
from lanner.engine.snapshots import FlowCache, Snapshots
from lanner.engine.worker import Worker
from lanner.store import Store
from lanner.templating import TemplateEngine

log = logging.getLogger("lanner.engine")

DEFAULT_WORKER_CONCURRENCY = 32


class Engine:
    """The embedded engine: one executor loop and one worker sharing live snapshots."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        *,
        templates: TemplateEngine | None = None,
        worker_concurrency: int = DEFAULT_WORKER_CONCURRENCY,
        worker_id: str | None = None,
        environ: Mapping[str, str] | None = None,
        globals_: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.feed = feed
        self.templates = templates or TemplateEngine()
        self.snapshots = Snapshots(store, FlowCache(store))
        self.loop = ExecutorLoop(store, feed, self.snapshots)
        runner = JobRunner(
            store,
            self.templates,
            envs=kestra_envs(environ if environ is not None else os.environ),
            globals_=globals_,
        )
        # A stable id: after a crash, the next start hands this worker's jobs back at once.
        self.worker = Worker(
            store,
            feed,
            self.snapshots,
            runner,
            worker_id=worker_id or f"{socket.gethostname()}/embedded",
            concurrency=worker_concurrency,
        )
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.requeue_jobs(utc_now())
        await self.worker.start()
        self._loop_task = asyncio.create_task(self.loop.run(), name="lanner-executor")
        self.feed.publish(WORK_TOPIC)
        log.info("engine started (worker %s)", self.worker.worker_id)

    async def stop(self, grace_s: float = 10.0) -> None:
        await self.worker.stop(grace_s)
        self.loop.stop()
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(self._loop_task, timeout=max(grace_s, 1.0))
            except TimeoutError:
                self._loop_task.cancel()
                await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
