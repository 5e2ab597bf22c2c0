"""The hand-kept HTTP latency histogram gives Prometheus' cumulative buckets."""

from __future__ import annotations

from lanner.telemetry import HTTP_BUCKETS, HttpLatency


def test_buckets_are_cumulative_with_inclusive_bounds() -> None:
    latency = HttpLatency()
    for seconds in (0.001, 0.0011, 0.3, 20.0):
        latency.observe("GET", "/api/v1/flows/search", 200, seconds)
    latency.observe("BREW", "/api/v1/flows/search", 200, 0.01)
    (family,) = latency.collect()
    samples = [s for s in family.samples if s.labels["method"] == "GET"]
    buckets = {s.labels["le"]: s.value for s in samples if s.name.endswith("_bucket")}
    assert buckets["0.001"] == 1  # le: a value on a bound counts in that bucket
    assert buckets["0.0025"] == 2
    assert buckets["0.25"] == 2
    assert buckets["0.5"] == 3
    assert buckets["10.0"] == 3
    assert buckets["+Inf"] == 4
    assert len(buckets) == len(HTTP_BUCKETS) + 1
    count = next(s.value for s in samples if s.name.endswith("_count"))
    total = next(s.value for s in samples if s.name.endswith("_sum"))
    assert count == 4
    assert abs(total - 20.3021) < 1e-9
    assert {s.labels["method"] for s in family.samples} == {"GET", "OTHER"}
