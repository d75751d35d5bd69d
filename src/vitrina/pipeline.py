"""The running pipeline of one `vitrina up`: warehouse, schema, validators, the sink, the Log
(log/base.py) that makes answers durable, self-metrics and the read-only SQL runner, opened
and closed together."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from prometheus_client import generate_latest

from vitrina.auth.keys import KeyStore
from vitrina.config import Settings
from vitrina.core import Sink
from vitrina.health import StorageHealth
from vitrina.intake.validate import Checked, StreamValidator
from vitrina.load.commit import Committer
from vitrina.load.dead_letters import dead_letters, problem_reason
from vitrina.load.group_commit import GroupCommit
from vitrina.load.wal_loader import WalLoader
from vitrina.log.base import Log
from vitrina.log.wal import WriteAheadLog
from vitrina.log.wal_writer import WalWriter
from vitrina.reach import clickhouse_server, transport_server
from vitrina.selfmetrics import PipelineMetrics
from vitrina.streams.declare import Stream
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.readonly import ReadOnlySql
from vitrina.warehouse.schema import migrate
from vitrina.warehouse.sink import WarehouseSink

log = logging.getLogger(__name__)


def rejected_rows(stream: str, source: str, checked: Checked, key: str = "") -> bytes:
    """The rejected table's rows for a request's bad items (position: the item's index), sent
    with the API key named `key`."""
    items = [
        ("" if p.index is None else str(p.index), problem_reason(p), raw) for p, raw in zip(checked.problems, checked.raws, strict=False)
    ]
    return dead_letters(stream, source, items, key)


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.streams: dict[str, Stream] = settings.streams
        self.validators = {name: StreamValidator(s) for name, s in self.streams.items()}
        self.warehouse: Warehouse | None = None
        self.sink: Sink | None = None  # what every loader stores through
        self.log: Log | None = None
        self.sql: ReadOnlySql | None = None
        self.metrics = PipelineMetrics(lambda: self.log.pending if self.log else 0, lambda: self.log.backlog if self.log else 0)
        # With [auth] on: the keys requests are checked against (auth/guard.py, /readyz).
        self.keys = KeyStore(settings.keys_path) if settings.auth.enabled else None
        self.ready = False
        self.health = StorageHealth()  # read by GET /readyz
        self.metrics.watch_storage(lambda: self.health.wal_failing, lambda: self.health.warehouse_failing)
        self.started_at = time.time()
        self._accepted: dict[str, Any] = {}  # per-stream counter children, looked up once

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open everything; a ClickHouse server or broker that does not answer gets one line and
        a bounded wait (reach.py), then start-up fails with one line."""
        s = self.settings
        for server in (clickhouse_server(s.warehouse_dsn, self.health), transport_server(s.transport, self.health)):
            if server is not None:
                server.wait()
        # Owner: serve() holds the data folder's lock before the pipeline opens.
        self.warehouse = Warehouse(parse_dsn(s.warehouse_dsn, s.database, s.warehouse.cluster), fsync=s.writer.fsync, owner=True)
        applied = migrate(self.warehouse, self.streams.values(), s.retention)
        if applied:
            log.info("schema migrations applied: %s", applied)
        self.sql = ReadOnlySql(self.warehouse, s.sql)
        self.sink = WarehouseSink(self.warehouse)
        self.log = open_log(s, self.sink, self.metrics, self.health)
        self.log.start(loop)
        self.ready = True

    def close(self) -> None:
        self.ready = False
        if self.log is not None:
            self.log.close()  # makes everything accepted durable (and, for the write-ahead log, loaded)
        if self.sql is not None:
            self.sql.close()
        if self.warehouse is not None:
            self.warehouse.close()

    def metrics_text(self) -> bytes:
        """What GET /metrics answers (`vitrina api --workers N`: every worker's, summed)."""
        return generate_latest(self.metrics.registry)

    def store(self, stream: str, checked: Checked, source: str = "http", key: bytes | None = None) -> Awaitable[None]:
        """Hand the good rows and the rejected items to the Log; the result is done once both
        are durable. `key` (the API key's name) keeps one producer's events in order on a
        partitioned log, and is kept with the rejected items. Call count_stored() after it.

        A plain function, not a coroutine: for the common request (all items good) it hands
        back the Log's awaitable itself, a measurable saving per single-event request."""
        assert self.log is not None, "pipeline not open"
        if not checked.problems:
            return self.log.submit(stream, checked.rows, checked.count, key)
        rejected = rejected_rows(stream, source, checked, key.decode() if key else "")
        return self.log.submit(stream, checked.rows, checked.count, key, rejected, len(checked.problems))

    def count_stored(self, stream: str, checked: Checked) -> None:
        if checked.count:
            counter = self._accepted.get(stream)
            if counter is None:
                counter = self._accepted[stream] = self.metrics.accepted.labels(stream)
            counter.inc(checked.count)
        if checked.problems:
            self.metrics.rejected.labels(stream).inc(len(checked.problems))


def open_log(settings: Settings, sink: Sink, metrics: PipelineMetrics, health: StorageHealth) -> Log:
    """The Log the settings choose: a broker's (`[transport] kind`), else the write-ahead log
    (`[writer] ack = "wal"`), else none at all, the group commit (`ack = "insert"`)."""
    kind, w = settings.transport.kind, settings.writer
    if kind == "kafka":
        from vitrina.log.kafka import KafkaLog

        return KafkaLog(settings.transport, settings.streams, health)
    if kind == "redis":
        from vitrina.log.redis_log import RedisLog

        return RedisLog(settings.transport, settings.streams)
    if w.ack == "wal":
        wal = WriteAheadLog(settings.data_dir / "wal", durable=w.wal_fsync, on_drop=metrics.wal_dropped)
        loader = WalLoader(
            wal, sink, interval_ms=w.wal_interval_ms, batch_rows=w.wal_batch_rows, observe=metrics.observe_insert, health=health
        )
        return WalWriter(wal, loader, fsync=w.wal_fsync, max_pending_rows=w.max_pending_rows, health=health)
    committer = Committer(sink, health, metrics.observe_insert)
    return GroupCommit(committer, batch_rows=w.commit_batch_rows, linger_ms=w.commit_linger_ms, max_pending_rows=w.max_pending_rows)
