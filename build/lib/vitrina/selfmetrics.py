"""The pipeline's own Prometheus metrics, exported at GET /metrics."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BATCH_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class PipelineMetrics:
    def __init__(self, pending_rows: Callable[[], float], unloaded_rows: Callable[[], float] = lambda: 0) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.accepted = Counter("vitrina_accepted_events", "Events stored, per stream", ["stream"], registry=r)
        self.rejected = Counter(
            "vitrina_rejected_events", "Events rejected and kept in the rejected table, per stream", ["stream"], registry=r
        )
        self.requests = Counter("vitrina_intake_requests", "Intake requests by answer status", ["status"], registry=r)
        self.batch_rows = Histogram("vitrina_insert_batch_rows", "Rows per insert", ["table"], buckets=_BATCH_BUCKETS, registry=r)
        self.insert_seconds = Histogram("vitrina_insert_seconds", "Insert latency", ["table"], buckets=_SECONDS_BUCKETS, registry=r)
        self.request_seconds = Histogram(
            "vitrina_intake_request_seconds", "Intake request latency, from body read to answer", buckets=_SECONDS_BUCKETS, registry=r
        )
        self.queue_depth = Gauge("vitrina_writer_pending_rows", "Rows waiting for the group-commit writer", registry=r)
        self.queue_depth.set_function(pending_rows)
        self.wal_unloaded = Gauge(
            "vitrina_wal_unloaded_rows", "Acknowledged rows in the write-ahead log, not yet in ClickHouse (ack = wal)", registry=r
        )
        self.wal_unloaded.set_function(unloaded_rows)

    def observe_insert(self, table: str, rows: int, seconds: float) -> None:
        self.batch_rows.labels(table).observe(rows)
        self.insert_seconds.labels(table).observe(seconds)
