"""The running pipeline of one `vitrina up`: warehouse, schema, validators, group-commit
writer, self-metrics and the read-only SQL runner, opened and closed together."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from vitrina.auth.keys import KeyStore
from vitrina.config import Settings
from vitrina.intake.validate import Checked, StreamValidator
from vitrina.load.batches import dead_letters, problem_reason
from vitrina.load.group_commit import GroupCommitWriter
from vitrina.load.health import StorageHealth
from vitrina.load.storing import NullCopy
from vitrina.load.wal import WriteAheadLog
from vitrina.load.wal_writer import WalWriter
from vitrina.log.producer import LogProducer
from vitrina.selfmetrics import PipelineMetrics
from vitrina.streams.declare import Stream
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.ddl import REJECTED_TABLE
from vitrina.warehouse.readonly import ReadOnlySql
from vitrina.warehouse.schema import migrate

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
        self.writer: GroupCommitWriter | WalWriter | None = None
        self.sql: ReadOnlySql | None = None
        self.log: LogProducer | None = None  # set when the transport is kafka or redis
        self.metrics = PipelineMetrics(
            lambda: self.writer.pending_rows if self.writer else 0,
            lambda: self.writer.unloaded_rows if isinstance(self.writer, WalWriter) else 0,
        )
        # With [auth] on: the keys requests are checked against (auth/guard.py, /readyz).
        self.keys = KeyStore(settings.keys_path) if settings.auth.enabled else None
        self.ready = False
        self.health = StorageHealth()  # read by GET /readyz
        self.metrics.watch_storage(lambda: self.health.wal_failing, lambda: self.health.warehouse_failing)
        self.started_at = time.time()
        self._accepted: dict[str, Any] = {}  # per-stream counter children, looked up once

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        s = self.settings
        self.warehouse = Warehouse(parse_dsn(s.warehouse_dsn, s.database, s.warehouse.cluster), fsync=s.writer.fsync)
        applied = migrate(self.warehouse, self.streams.values(), s.retention)
        if applied:
            log.info("schema migrations applied: %s", applied)
        self.sql = ReadOnlySql(self.warehouse, s.sql)
        self.writer = self._writer(self.warehouse)
        self.writer.start(loop)
        self.log = open_log(s, loop)
        self.ready = True

    def _writer(self, wh: Warehouse) -> GroupCommitWriter | WalWriter:
        w = self.settings.writer
        if w.ack == "wal":
            return WalWriter(
                WriteAheadLog(self.settings.data_dir / "wal", durable=w.wal_fsync, on_drop=self.metrics.wal_dropped),
                wh.insert_json_rows,
                fsync=w.wal_fsync,
                flush_rows=w.flush_rows,
                interval_ms=w.wal_interval_ms,
                max_pending_rows=w.max_pending_rows,
                observe=self.metrics.observe_insert,
                check=NullCopy(wh),
                health=self.health,
            )
        return GroupCommitWriter(
            wh.insert_json_rows,
            flush_rows=w.flush_rows,
            linger_ms=w.linger_ms,
            max_pending_rows=w.max_pending_rows,
            observe=self.metrics.observe_insert,
            check=NullCopy(wh),
            health=self.health,
        )

    def close(self) -> None:
        self.ready = False
        if self.log is not None:
            self.log.close()
        if self.writer is not None:
            self.writer.close()  # drains everything accepted
        if self.sql is not None:
            self.sql.close()
        if self.warehouse is not None:
            self.warehouse.close()

    def store(self, stream: str, checked: Checked, source: str = "http", key: bytes | None = None) -> Awaitable[None]:
        """Insert the good rows and keep the rejected items; the result is done once both are
        durable (in the write-ahead log or ClickHouse, or with a log transport in the log).
        `key` (the API key's name) keeps one producer's events in order on a log, and is kept with
        the rejected items. Call count_stored() after it.

        A plain function, not a coroutine: for the common request (all items good) it hands
        back the writer's future itself, a measurable saving per single-event request."""
        if self.log is not None:
            rejected = rejected_rows(stream, source, checked, key.decode() if key else "") if checked.problems else b""
            return self.log.send(stream, checked.rows, rejected, key)
        assert self.writer is not None
        if checked.count and not checked.problems:
            return self.writer.submit(stream, checked.rows, checked.count)
        waits = []
        if checked.count:
            waits.append(self.writer.submit(stream, checked.rows, checked.count))
        if checked.problems:
            rejected = rejected_rows(stream, source, checked, key.decode() if key else "")
            waits.append(self.writer.submit(REJECTED_TABLE, rejected, len(checked.problems)))
        return _all(waits)

    def count_stored(self, stream: str, checked: Checked) -> None:
        if checked.count:
            counter = self._accepted.get(stream)
            if counter is None:
                counter = self._accepted[stream] = self.metrics.accepted.labels(stream)
            counter.inc(checked.count)
        if checked.problems:
            self.metrics.rejected.labels(stream).inc(len(checked.problems))


async def _all(waits: list[asyncio.Future[None]]) -> None:
    if waits:
        await asyncio.gather(*waits)


def open_log(settings: Settings, loop: asyncio.AbstractEventLoop) -> LogProducer | None:
    """The log producer of a kafka or redis transport; None for direct."""
    kind = settings.transport.kind
    if kind == "kafka":
        from vitrina.log.kafka import KafkaLog

        return KafkaLog(settings.transport, settings.streams, loop)
    if kind == "redis":
        from vitrina.log.redis_log import RedisLog

        return RedisLog(settings.transport, settings.streams)
    return None
