"""Prometheus metrics of this process (``/metrics``), on ``prometheus_client``'s default registry.

Process-wide on purpose: Prometheus scrapes processes, and the engine (task durations, the log
writer's backlog) and the API (HTTP latency) of one process report to the same place. What the
store knows (executions by state, queue depth) is read at scrape time by the endpoint
(``lanner.api.observability``) and set on the gauges here.

HTTP latency is labelled by the route *template* (``/api/v1/executions/{executionId}``), never
the raw path, so the label set stays bounded; the children of the histogram are cached by
label tuple: a request costs a dict look-up, a bisect and two additions (:class:`HttpLatency`). Imports prometheus_client.
"""

from __future__ import annotations

import bisect
import math
import weakref
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import REGISTRY, Gauge, Histogram, Metric
from prometheus_client.metrics_core import HistogramMetricFamily
from prometheus_client.registry import Collector

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

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


HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpLatency(Collector):
    """``lanner_http_request_duration_seconds``, kept by hand: a request adds to one counter
    list (a bisect and two additions, no lock: the event loop's thread is the only writer),
    and the histogram's cumulative buckets are built at scrape time. prometheus_client's own
    ``Histogram.observe`` costs several times more per request."""

    NAME = "lanner_http_request_duration_seconds"

    def __init__(self) -> None:
        # (method, route, status) → [count per bucket..., count over the last bucket, sum]
        self.series: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in HTTP_METHODS:
            method = "OTHER"
        key = (method, route, status)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = [0.0] * (len(HTTP_BUCKETS) + 2)
        series[bisect.bisect_left(HTTP_BUCKETS, seconds)] += 1
        series[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            self.NAME,
            "Time to answer an HTTP request (streams: until they end), by route template",
            labels=("method", "route", "status"),
        )
        for (method, route, status), series in list(self.series.items()):
            buckets, running = [], 0.0
            for bound, count in zip((*HTTP_BUCKETS, math.inf), series[:-1], strict=True):
                running += count
                buckets.append(("+Inf" if math.isinf(bound) else repr(bound), running))
            family.add_metric([method, route, str(status)], buckets, series[-1])
        yield family


HTTP_LATENCY = HttpLatency()
REGISTRY.register(HTTP_LATENCY)
observe_http = HTTP_LATENCY.observe


_task_series: dict[tuple[str, str], Any] = {}


def observe_task(task_type: str, state: str, seconds: float) -> None:
    # ``labels()`` checks and joins its arguments on every call: the child is kept instead
    # (task types times states: a few hundred at most).
    series = _task_series.get((task_type, state))
    if series is None:
        series = _task_series[(task_type, state)] = TASK_DURATION.labels(task_type, state)
    series.observe(seconds)


def set_counts(gauge: Gauge, counts: dict[str, int]) -> None:
    """Replace every child of ``gauge`` (one label) with ``counts``."""
    gauge.clear()
    for label, count in counts.items():
        gauge.labels(label).set(count)
