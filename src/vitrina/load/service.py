"""Running log loaders: inside `vitrina up` (serve/services.py: LoaderService; embedded chdb
allows one process per data folder, so there the loader must share the process), or alone
with `vitrina load`."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import redis

from vitrina.config import TransportSettings
from vitrina.core import Sink
from vitrina.health import StorageHealth
from vitrina.load.metrics import LoaderMetrics
from vitrina.log.naming import routes
from vitrina.reach import Server, Unreachable, backoff, transport_server
from vitrina.selfmetrics import PipelineMetrics
from vitrina.streams.declare import Stream
from vitrina.warehouse.client import Warehouse

log = logging.getLogger(__name__)


class Loader(Protocol):
    name: str

    def run(self, stop: threading.Event | None = None) -> None: ...


def make_loader(
    transport: TransportSettings,
    streams: dict[str, Stream],
    wh: Warehouse,
    sink: Sink,
    metrics: LoaderMetrics,
    index: int,
    health: StorageHealth | None = None,
) -> Loader:
    """One member of the loader group of `transport.kind`. `wh` keeps the Kafka batch plans;
    the rows go to `sink`."""
    if transport.kind == "kafka":
        from vitrina.load.kafka_loader import KafkaLoader

        return KafkaLoader(transport, streams, wh, sink, metrics, name=f"loader-{index}", health=health)
    if transport.kind == "redis":
        from vitrina.load.redis_loader import RedisLoader, consumer_name

        return RedisLoader(transport, streams, sink, metrics, name=consumer_name(transport, index), health=health)
    raise ValueError(f"no loader for transport {transport.kind!r}")


class LoaderGroup:
    """`transport.loaders` loader members, one thread each; a failed loader is restarted."""

    def __init__(
        self,
        transport: TransportSettings,
        streams: dict[str, Stream],
        wh: Warehouse,
        sink: Sink,
        metrics: PipelineMetrics,
        health: StorageHealth | None = None,
    ) -> None:
        self.transport = transport
        self.health = health
        self.streams = streams
        self.wh = wh
        self.sink = sink
        self.metrics = LoaderMetrics(metrics)
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        # The broker the members read: one line when it stops answering, one when it is back.
        self.server: Server | None = transport_server(transport, health)

    def start(self) -> None:
        routes(self.transport, self.streams)  # a bad [transport.foreign] fails here, not in a thread
        for i in range(max(self.transport.loaders, 1)):
            t = threading.Thread(target=self._run, args=(i,), name=f"vitrina-loader-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def _run(self, index: int) -> None:
        """Run member `index`, restarting it after a failure with a growing pause. A failure
        because the broker does not answer is one line per change (reach.Server), not a
        traceback per restart."""
        failures = 0
        while not self.stop_event.is_set():
            server = self.server
            if server is not None and server.is_down:
                if server.problem() is not None:
                    self.stop_event.wait(backoff(failures))
                    failures += 1
                    continue
                server.up()
            try:
                make_loader(self.transport, self.streams, self.wh, self.sink, self.metrics, index, self.health).run(self.stop_event)
                failures = 0
            except (Exception, Unreachable) as exc:  # Unreachable: the broker went away again
                problem = server.problem() if server is not None else None
                if server is not None and problem is not None:
                    server.down(problem)
                elif isinstance(exc, (ConnectionError, redis.ConnectionError)):
                    # The server closed the connection before its port stopped answering (it is
                    # going away): one line, and the next round sees it down.
                    log.warning("loader %d lost its connection (%s); reconnecting", index, exc)
                else:
                    log.exception("loader %d failed; restarting it", index)
                self.stop_event.wait(backoff(failures))
                failures += 1
                del exc

    def stop(self, timeout: float = 60.0) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)
