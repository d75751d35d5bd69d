"""The pipeline's own Prometheus metrics, exported at GET /metrics."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BATCH_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class PipelineMetrics:
    def __init__(self, pending: Callable[[], float], backlog: Callable[[], float] = lambda: 0) -> None:
        """`pending()`: rows accepted, not yet durable; `backlog()`: rows acknowledged, not yet
        in ClickHouse (the Log's, log/base.py)."""
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
        self.queue_depth = Gauge("vitrina_writer_pending_rows", "Rows accepted, not yet durable (their requests wait)", registry=r)
        self.queue_depth.set_function(pending)
        self.wal_unloaded = Gauge(
            "vitrina_wal_unloaded_rows", "Acknowledged rows not yet in ClickHouse (the write-ahead log's, with ack = wal)", registry=r
        )
        self.wal_unloaded.set_function(backlog)
        # Bytes of the write-ahead log the reader could not use, copied to wal/quarantine/:
        # "damaged" (acknowledged records lost; the ERROR log line says where) or "torn" (a
        # write cut short by a crash or a failed append, never acknowledged).
        self.wal_dropped_bytes = Counter(
            "vitrina_wal_dropped_bytes",
            "Write-ahead log bytes dropped as not intact records (kept in wal/quarantine)",
            ["kind"],
            registry=r,
        )
        self.wal_dropped_records = Counter(
            "vitrina_wal_dropped_records", "Write-ahead log records dropped, at least (kept in wal/quarantine)", ["kind"], registry=r
        )
        self.storage_failing = Gauge(
            "vitrina_storage_failing", "1 while storage fails: wal (appends) or warehouse (inserts, past the grace)", ["part"], registry=r
        )

    def wal_dropped(self, kind: str, nbytes: int, records: int) -> None:
        self.wal_dropped_bytes.labels(kind).inc(nbytes)
        self.wal_dropped_records.labels(kind).inc(records)

    def watch_storage(self, wal: Callable[[], bool], warehouse: Callable[[], bool]) -> None:
        self.storage_failing.labels("wal").set_function(lambda: float(wal()))
        self.storage_failing.labels("warehouse").set_function(lambda: float(warehouse()))

    def observe_insert(self, table: str, rows: int, seconds: float) -> None:
        self.batch_rows.labels(table).observe(rows)
        self.insert_seconds.labels(table).observe(seconds)
