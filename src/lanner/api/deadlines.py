"""Bounded work off the event loop: flow parsing runs in a worker thread under a deadline.

A route hands CPU-bound work whose cost depends on the request (parsing and validating flows,
converting a JSON flow to YAML) to :func:`off_loop`: the event loop keeps answering other
requests meanwhile, and a request past ``flow-parse-timeout`` is answered 503 at once while the
thread is abandoned (the YAML limits carry the same deadline, so the loader stops on its own).
Imports the settings, the errors, the flow loader and the submitter's parse cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from lanner.config import Settings
from lanner.domain.flows import Flow
from lanner.engine.submit import cached_flow, parsed_flow
from lanner.errors import DeadlineExceededError
from lanner.flows.loader import YamlLimits

T = TypeVar("T")


def yaml_limits(settings: Settings) -> YamlLimits:
    """The configured YAML limits, with a deadline ``flow-parse-timeout`` from now."""
    limits = YamlLimits(
        max_aliases=settings.yaml_max_aliases,
        max_depth=settings.yaml_max_depth,
        max_nodes=settings.yaml_max_nodes,
        max_chars=settings.yaml_max_chars,
    )
    return limits.until(settings.flow_parse_timeout)


async def off_loop(settings: Settings, func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a worker thread; 503 when it outlives ``flow-parse-timeout``."""
    with anyio.move_on_after(settings.flow_parse_timeout):
        return await anyio.to_thread.run_sync(func, *args, abandon_on_cancel=True)
    raise DeadlineExceededError(
        "Service Unavailable: reading the flow did not finish within "
        f"{settings.flow_parse_timeout:g} s (flow-parse-timeout)"
    )


async def stored_flow(settings: Settings, source: str) -> Flow:
    """A stored revision's flow: from the cache at once, else parsed by :func:`off_loop`."""
    flow = cached_flow(source)
    return flow if flow is not None else await off_loop(settings, parsed_flow, source)
