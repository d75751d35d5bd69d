"""Running loaders: inside `vitrina up` as a Service (embedded chdb allows one process per
data folder, so there the loader must share the process), or alone with `vitrina load`."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Protocol

from fastapi import FastAPI

from vitrina.config import TransportSettings
from vitrina.load.batches import LoaderMetrics
from vitrina.log.naming import routes
from vitrina.pipeline import Pipeline
from vitrina.selfmetrics import PipelineMetrics
from vitrina.streams.declare import Stream
from vitrina.warehouse.client import Warehouse

log = logging.getLogger(__name__)


class Loader(Protocol):
    name: str

    def run(self, stop: threading.Event | None = None) -> None: ...


def make_loader(transport: TransportSettings, streams: dict[str, Stream], wh: Warehouse, metrics: LoaderMetrics, index: int) -> Loader:
    if transport.kind == "kafka":
        from vitrina.load.loader import KafkaLoader

        return KafkaLoader(transport, streams, wh, metrics, name=f"loader-{index}")
    if transport.kind == "redis":
        from vitrina.load.redis_loader import RedisLoader, consumer_name

        return RedisLoader(transport, streams, wh, metrics, name=consumer_name(transport, index))
    raise ValueError(f"no loader for transport {transport.kind!r}")


class LoaderGroup:
    """`transport.loaders` loader members, one thread each; a failed loader is restarted."""

    def __init__(self, transport: TransportSettings, streams: dict[str, Stream], wh: Warehouse, metrics: PipelineMetrics) -> None:
        self.transport = transport
        self.streams = streams
        self.wh = wh
        self.metrics = LoaderMetrics(metrics)
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        routes(self.transport, self.streams)  # a bad [transport.foreign] fails here, not in a thread
        for i in range(max(self.transport.loaders, 1)):
            t = threading.Thread(target=self._run, args=(i,), name=f"vitrina-loader-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def _run(self, index: int) -> None:
        while not self.stop_event.is_set():
            try:
                make_loader(self.transport, self.streams, self.wh, self.metrics, index).run(self.stop_event)
            except Exception:
                log.exception("loader %d failed; restarting it", index)
                self.stop_event.wait(1.0)

    def stop(self, timeout: float = 60.0) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)


class LoaderService:
    """The loader group inside `vitrina up --transport kafka|redis`."""

    name = "loader"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.group: LoaderGroup | None = None

    def routes(self, api: FastAPI) -> None:
        pass

    async def start(self) -> None:
        s = self.pipeline.settings
        if s.transport.kind == "direct" or not s.transport.loader:
            return
        assert self.pipeline.warehouse is not None
        self.group = LoaderGroup(s.transport, self.pipeline.streams, self.pipeline.warehouse, self.pipeline.metrics)
        self.group.start()

    async def stop(self) -> None:
        if self.group is not None:
            await asyncio.to_thread(self.group.stop)


def loader_service(pipeline: Pipeline) -> LoaderService:
    return LoaderService(pipeline)
