"""Prometheus metrics of this process (``/metrics``), on ``prometheus_client``'s default registry.

Process-wide on purpose: Prometheus scrapes processes, and the engine (task durations, the log
writer's backlog) and the API (HTTP latency) of one process report to the same place. What the
store knows (executions by state, queue depth) is read at scrape time by the endpoint
(``lanner.api.observability``) and set on the gauges here.

HTTP latency is labelled by the route *template* (``/api/v1/executions/{executionId}``), never
the raw path, so the label set stays bounded; the children of the histogram are cached by
label tuple so a request costs a dict look-up and an ``observe``. Imports prometheus_client.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Protocol

from prometheus_client import Gauge, Histogram

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_LATENCY = Histogram(
    "lanner_http_request_duration_seconds",
    "Time to answer an HTTP request (streams: until they end), by route template",
    ("method", "route", "status"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TASK_DURATION = Histogram(
    "lanner_task_duration_seconds",
    "Run time of task attempts, by task type and final state",
    ("type", "state"),
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0),
)
EXECUTIONS = Gauge("lanner_executions", "Executions in the store by current state", ("state",))
QUEUE_DEPTH = Gauge(
    "lanner_queue_depth",
    "Work waiting in the store: jobs by status (QUEUED, RUNNING) and executor events",
    ("kind",),
)
LOG_BACKLOG = Gauge(
    "lanner_log_backlog_lines", "Task log lines accepted but not yet committed to the store"
)
FOLLOW_STREAMS = Gauge("lanner_follow_streams", "Follow streams (SSE) open on this process")


class _Backlogged(Protocol):
    @property
    def pending_lines(self) -> int: ...


_writers: weakref.WeakSet[_Backlogged] = weakref.WeakSet()


def _backlog() -> float:
    return float(sum(writer.pending_lines for writer in list(_writers)))


LOG_BACKLOG.set_function(_backlog)


def watch_log_writer(writer: _Backlogged) -> None:
    """Count ``writer``'s pending lines in ``lanner_log_backlog_lines`` while it lives."""
    _writers.add(writer)


_http_children: dict[tuple[str, str, int], Callable[[float], None]] = {}


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    if method not in HTTP_METHODS:
        method = "OTHER"
    key = (method, route, status)
    observe = _http_children.get(key)
    if observe is None:
        observe = HTTP_LATENCY.labels(method, route, str(status)).observe
        _http_children[key] = observe
    observe(seconds)


def observe_task(task_type: str, state: str, seconds: float) -> None:
    TASK_DURATION.labels(task_type, state).observe(seconds)


def set_counts(gauge: Gauge, counts: dict[str, int]) -> None:
    """Replace every child of ``gauge`` (one label) with ``counts``."""
    gauge.clear()
    for label, count in counts.items():
        gauge.labels(label).set(count)
