"""The log loaders' own series, added to the pipeline's registry (GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from vitrina.load.commit import Batch
from vitrina.selfmetrics import PipelineMetrics


class LoaderMetrics:
    def __init__(self, metrics: PipelineMetrics) -> None:
        r = metrics.registry
        self.pipeline = metrics
        self.batches = Counter("vitrina_loader_batches", "Batches loaded from the log, per topic", ["topic"], registry=r)
        self.loaded = Counter("vitrina_loaded_events", "Events loaded from the log into ClickHouse, per stream", ["stream"], registry=r)
        self.dead = Counter("vitrina_loader_dead_letters", "Messages that failed validation, kept in rejected", ["topic"], registry=r)
        self.lag = Gauge(
            "vitrina_loader_lag", "Messages not yet loaded, per partition (from what was consumed)", ["topic", "partition"], registry=r
        )

        self.keys_moved = Counter(
            "vitrina_redis_keys_moved", "Redis string keys ([transport.redis_keys]) moved into their stream, per glob", ["glob"], registry=r
        )
        self.keys_vanished = Counter(
            "vitrina_redis_keys_vanished",
            "Redis string keys SCAN saw that were gone before the move: expired (or deleted by another client), per glob",
            ["glob"],
            registry=r,
        )

    def loaded_batch(self, topic: str, batch: Batch) -> None:
        """A batch of `topic` (a Kafka topic, a Redis stream key) is stored: its inserts were
        observed by the commit path already."""
        self.batches.labels(topic).inc()
        if batch.count:
            self.loaded.labels(batch.table).inc(batch.count)
        if batch.dead_count:
            self.dead.labels(topic).inc(batch.dead_count)
