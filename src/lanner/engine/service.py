"""``Engine``: the executor loop and a worker pool in this process, started and stopped as one.

``start()`` hands back this worker's jobs left by a previous run (and any job whose lease
expired), then runs the loop — which picks up every persisted event, so executions accepted
before a crash go on — and the worker. ``stop(grace_s)`` is the SIGTERM path: stop claiming,
let running tasks finish within the grace period, hand the rest back, stop the loop, then
commit the log lines still buffered. ``masker`` hides secret values from task log lines (the
runtime functions' registry of the secrets they handed out).
Imports the store protocols, templating and this package.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

from lanner.engine.context import kestra_envs
from lanner.engine.feeds import WORK_TOPIC, ChangeFeed
from lanner.engine.jobs import JobRunner
from lanner.engine.logging import Masker
from lanner.engine.logwriter import LogWriter
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
        masker: Masker | None = None,
        decrypt: Callable[[str], str] | None = None,
    ) -> None:
        self.store = store
        self.feed = feed
        self.templates = templates or TemplateEngine()
        self.snapshots = Snapshots(store, FlowCache(store))
        self.masker = masker
        self.log_writer = LogWriter(store, feed)
        self.loop = ExecutorLoop(store, feed, self.snapshots, log_writer=self.log_writer)
        runner = JobRunner(
            store,
            self.templates,
            envs=kestra_envs(environ if environ is not None else os.environ),
            globals_=globals_,
            log_writer=self.log_writer,
            masker=self.masker,
            decrypt=decrypt,
        )
        # A stable id: after a crash, the next start hands this worker's jobs back at once.
        self.worker = Worker(
            store,
            feed,
            self.snapshots,
            runner,
            worker_id=worker_id or f"{socket.gethostname()}/embedded",
            concurrency=worker_concurrency,
            log_writer=self.log_writer,
        )
        # One process: results and new jobs pass between the loop and the worker directly.
        self.loop.attach(self.worker)
        self.worker.deliver_to(self.loop.offer)
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.requeue_jobs(utc_now())
        self.log_writer.start()
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
        await self.log_writer.stop()  # after the worker and the loop: their last lines too
