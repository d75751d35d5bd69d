"""The summed /metrics of `vitrina api --workers N`, on registries standing in for workers."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tests.log.services import metric
from vitrina.roles.worker_metrics import merged_text, retire, write_snapshot


def _worker(accepted: int, pending: float, seconds: list[float]) -> CollectorRegistry:
    r = CollectorRegistry()
    Counter("vitrina_accepted_events", "Events", ["stream"], registry=r).labels("metrics").inc(accepted)
    Gauge("vitrina_writer_pending_rows", "Rows", registry=r).set_function(lambda: pending)
    h = Histogram("vitrina_intake_request_seconds", "Latency", buckets=(0.01, 0.1), registry=r)
    for s in seconds:
        h.observe(s)
    return r


def test_counters_histograms_and_gauges_are_summed_over_the_workers(tmp_path: Path) -> None:
    write_snapshot(tmp_path, _worker(10, 3, [0.005]), pid=101)
    write_snapshot(tmp_path, _worker(20, 4, [0.05, 0.5]), pid=102)
    text = merged_text(tmp_path, _worker(5, 1, [])).decode()
    assert metric(text, "vitrina_accepted_events_total", stream="metrics") == 35
    assert metric(text, "vitrina_writer_pending_rows") == 8
    assert metric(text, "vitrina_intake_request_seconds_bucket", le="0.01") == 1
    assert metric(text, "vitrina_intake_request_seconds_bucket", le="0.1") == 2
    assert metric(text, "vitrina_intake_request_seconds_count") == 3
    assert text.count("# TYPE vitrina_accepted_events_total counter") == 1


def test_a_dead_workers_counters_stay_and_its_gauges_go(tmp_path: Path) -> None:
    write_snapshot(tmp_path, _worker(10, 3, [0.005]), pid=101)
    retire(tmp_path, 101)
    assert not (tmp_path / "live-101.prom").exists()
    text = merged_text(tmp_path, _worker(5, 1, [])).decode()
    assert metric(text, "vitrina_accepted_events_total", stream="metrics") == 15  # never goes down
    assert metric(text, "vitrina_intake_request_seconds_count") == 1
    assert metric(text, "vitrina_writer_pending_rows") == 1  # the live worker's only
