"""One worker of `vitrina api`: intake, the read API and the dashboard, and nothing that
writes to the warehouse on its own (no loader, model, alert or report).

With a Kafka or Redis transport the worker keeps no state: a request is acknowledged once the
broker has it, so intake needs only the broker. The warehouse is connected to in the
background, retried until it answers; until then reads answer 503 (`not_ready`) and the
dashboard waits, while intake goes on."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI

from vitrina.config import Settings
from vitrina.core import Sink
from vitrina.pipeline import Pipeline, open_log
from vitrina.roles.worker_metrics import Snapshots, merged_text
from vitrina.serve.dashboards.service import DashboardService
from vitrina.serve.services import Service
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.readonly import ReadOnlySql
from vitrina.warehouse.schema import migrate

log = logging.getLogger(__name__)
RETRY_MAX_S = 30.0  # the longest pause between two attempts to reach the warehouse


class ApiPipeline(Pipeline):
    """The pipeline of an api worker: the broker's Log at once, the warehouse when it answers.
    `metrics_dir`: the folder the workers of one `vitrina api` share their metrics through."""

    def __init__(self, settings: Settings, metrics_dir: Path | None = None) -> None:
        super().__init__(settings)
        self.metrics_dir = metrics_dir
        self._snapshots = Snapshots(metrics_dir, self.metrics.registry) if metrics_dir else None
        self._lock = threading.Lock()
        self._waiting: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._stop = threading.Event()
        self._connector: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._snapshots is not None:
            self._snapshots.start()
        if self.settings.transport.kind == "direct":  # the write-ahead log needs the warehouse: as `vitrina up`
            super().open(loop)
            return
        self._loop = loop
        # A broker's Log stores nothing itself (the loaders do): it takes no sink.
        self.log = open_log(self.settings, cast(Sink, None), self.metrics, self.health)
        self.log.start(loop)
        self.ready = True
        self._connector = threading.Thread(target=self._connect, name="vitrina-warehouse-connect", daemon=True)
        self._connector.start()

    def _connect(self) -> None:
        s, pause = self.settings, 0.5
        while not self._stop.is_set():
            try:
                wh = Warehouse(parse_dsn(s.warehouse_dsn, s.database, s.warehouse.cluster), fsync=s.writer.fsync)
                migrate(wh, self.streams.values(), s.retention)  # idempotent; every role runs it
                sql = ReadOnlySql(wh, s.sql)
            except Exception as exc:  # unreachable, starting, refusing: reads wait, intake does not
                log.warning("warehouse not reachable (%s); reads answer 503, retrying in %.1f s", exc, pause)
                self._stop.wait(pause)
                pause = min(pause * 2, RETRY_MAX_S)
                continue
            with self._lock:
                self.warehouse, self.sql = wh, sql
                waiting, self._waiting = self._waiting, []
            log.info("warehouse connected: reads are served")
            assert self._loop is not None
            for start in waiting:
                asyncio.run_coroutine_threadsafe(start(), self._loop)
            return

    def when_warehouse(self, start: Callable[[], Coroutine[Any, Any, None]]) -> Awaitable[None] | None:
        """`start` once the warehouse is connected: now (the awaitable returned) or later."""
        with self._lock:
            if self.warehouse is None:
                self._waiting.append(start)
                return None
        return start()

    def close(self) -> None:
        self._stop.set()
        if self._connector is not None:
            self._connector.join(30)
        super().close()
        if self._snapshots is not None:
            self._snapshots.stop()

    def metrics_text(self) -> bytes:
        if self.metrics_dir is None:
            return super().metrics_text()
        return merged_text(self.metrics_dir, self.metrics.registry)


class WhenWarehouse:
    """A service that needs the warehouse, started once the api worker has connected it."""

    def __init__(self, inner: Service, pipeline: Pipeline) -> None:
        self.inner = inner
        self.name = inner.name
        self.pipeline = pipeline
        self.started = False

    def routes(self, api: FastAPI) -> None:
        self.inner.routes(api)

    async def start(self) -> None:
        if not isinstance(self.pipeline, ApiPipeline) or self.pipeline.warehouse is not None:
            await self._start()
            return
        started = self.pipeline.when_warehouse(self._start)
        if started is not None:
            await started

    async def _start(self) -> None:
        await self.inner.start()
        self.started = True

    async def stop(self) -> None:
        if self.started:
            await self.inner.stop()


def api_services(pipeline: Pipeline) -> list[Service]:
    """The services of an api worker: the dashboard only (its alert panel says the alerts are
    not available here: they are evaluated by `vitrina schedule`)."""
    return [WhenWarehouse(DashboardService(pipeline, None), pipeline)]
