"""The Log of `[transport] kind = "kafka"`: a producer with acks=all, idempotent; a request is
answered after the broker's ack. The loaders (load/kafka_loader.py) insert from the topics.

confluent-kafka (librdkafka) rather than aiokafka: aiokafka's idempotent producer fails
against Tansu, the Kafka-compatible broker of the tests. Delivery callbacks run on a poll
thread and resolve the waiting request's future on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Iterable
from dataclasses import replace
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from vitrina.config import TransportSettings
from vitrina.core import REJECTED_TABLE, Overloaded, StorageError
from vitrina.health import StorageHealth
from vitrina.log.base import split_rows
from vitrina.log.naming import REJECTED_MARK, ROWS_HEADER, ROWS_MARK, topic_of
from vitrina.reach import Server, transport_server

log = logging.getLogger(__name__)
# The errors that mean the broker does not answer (librdkafka's error_cb and consume errors).
BROKER_DOWN = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE})


def kafka_server(settings: TransportSettings, health: StorageHealth | None = None) -> Server:
    server = transport_server(replace(settings, kind="kafka"), health)
    assert server is not None
    return server


class _Quiet(logging.LoggerAdapter[logging.Logger]):
    """librdkafka's own log at debug level: it writes a line for every failed connect (580 of
    them before a traceback, with no broker). What matters reaches the log once per change,
    through the error callback into reach.Server."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        super().log(logging.DEBUG, msg, *args, **kwargs)


_LIBRDKAFKA_LOG = _Quiet(logging.getLogger("vitrina.librdkafka"))


def quiet_client(server: Server) -> dict[str, object]:
    """Client settings for every librdkafka client vitrina makes: its log to a quiet Python
    logger, a broker that stops answering reported to `server`."""

    def on_error(err: KafkaError) -> None:
        if err.code() in BROKER_DOWN:
            server.down(err.str())
        else:
            log.warning("Kafka client error: %s", err.str())

    return {"logger": _LIBRDKAFKA_LOG, "error_cb": on_error}


def producer_config(bootstrap: str) -> dict[str, object]:
    return {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,  # retries never duplicate or reorder within a partition
        "linger.ms": 2,
        "queue.buffering.max.messages": 1_000_000,
        "message.timeout.ms": 30_000,
    }


def consumer_config(bootstrap: str, group: str, **extra: object) -> dict[str, object]:
    """Large fetches: with librdkafka's defaults a Tansu consumer gets ~150k msg/s, with
    these ~700k msg/s (bench/transport.py). A short fetch wait: Tansu holds an empty fetch for
    the whole wait even when data arrives meanwhile, which was most of the freshness delay."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "queued.min.messages": 1_000_000,
        "fetch.max.bytes": 100 * 1024 * 1024,
        "max.partition.fetch.bytes": 10 * 1024 * 1024,
        "fetch.wait.max.ms": 20,
        **extra,
    }


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int, replication_factor: int = -1, timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet (brokers may not auto-create them), with
    `replication_factor` copies; -1 is the broker's default (`default.replication.factor`), so
    a three-broker cluster configured for three copies gets three."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": _LIBRDKAFKA_LOG})  # type: ignore[dict-item]
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [NewTopic(t, partitions, replication_factor) for t in topics if t not in existing]
    if not missing:
        return
    for topic, fut in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            fut.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        log.info("created topic %s (%d partitions, replication factor %s)", topic, partitions, replication_factor)


class _Ack:
    """Counts the deliveries one request waits for; resolves its future on the loop."""

    __slots__ = ("error", "fut", "left", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None], left: int) -> None:
        self.loop, self.fut, self.left = loop, fut, left
        self.error: str | None = None

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None and self.error is None:
            self.error = str(err)
        self.left -= 1
        if self.left == 0:
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                self.loop.call_soon_threadsafe(self._done)

    def _done(self) -> None:
        if self.fut.done():
            return
        if self.error is None:
            self.fut.set_result(None)
        else:
            self.fut.set_exception(StorageError(f"the broker did not take the events: {self.error}"))


class KafkaLog:
    def __init__(self, settings: TransportSettings, streams: Iterable[str], health: StorageHealth | None = None) -> None:
        self.settings = settings
        self.server = kafka_server(settings, health)
        self.topics = {s: topic_of(settings, s) for s in (*streams, REJECTED_TABLE)}
        self.producer: Producer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._keys = itertools.count()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="vitrina-kafka-poll", daemon=True)

    @property
    def pending(self) -> int:
        """Messages produced, waiting for the broker's ack."""
        return len(self.producer) if self.producer is not None else 0

    @property
    def backlog(self) -> int:
        """Nothing here: what is acknowledged is in the broker; its loaders' lag is
        vitrina_loader_lag."""
        return 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.server.wait()
        s = self.settings
        ensure_topics(s.kafka, self.topics.values(), s.partitions, s.replication_factor)
        self.producer = Producer({**producer_config(s.kafka), **quiet_client(self.server)})
        self._poller.start()

    def _poll(self) -> None:
        assert self.producer is not None
        next_probe = 0.0
        while not self._stop.is_set():
            self.producer.poll(0.05)
            if self.server.is_down and time.monotonic() >= next_probe:
                next_probe = time.monotonic() + 1.0
                if self.server.problem() is None:
                    self.server.up()

    def submit(
        self, stream: str, rows: bytes, count: int, key: bytes | None = None, rejected: bytes = b"", rejected_count: int = 0
    ) -> Awaitable[None]:
        return self._send(stream, rows, rejected, key)

    async def _send(self, stream: str, rows: bytes, rejected: bytes, key: bytes | None) -> None:
        loop = self.loop
        assert loop is not None and self.producer is not None, "log not started"
        items = [(self.topics[stream], r, ROWS_MARK) for r in split_rows(rows)]
        items += [(self.topics[REJECTED_TABLE], r, REJECTED_MARK) for r in split_rows(rejected)]
        if not items:
            return
        # Without a producer key, a request's events share a key: they stay in one partition,
        # in order. With one (an API key, a client id), a producer's events keep their order.
        key = key or b"%d" % next(self._keys)
        fut = loop.create_future()
        ack = _Ack(loop, fut, len(items))
        produce = self.producer.produce
        try:
            for i, (topic, value, mark) in enumerate(items):
                try:
                    produce(topic, value, key, on_delivery=ack, headers=[(ROWS_HEADER, mark)])
                except BufferError:
                    # The local queue is full: the broker is behind. The messages produced so
                    # far will still be delivered; this request is refused as a whole.
                    ack.left -= len(items) - i
                    ack.error = "local queue full"
                    raise Overloaded("the Kafka producer queue is full") from None
        except KafkaException as exc:
            raise StorageError(str(exc)) from None
        await fut

    def flush(self, timeout: float) -> bool:
        """Nothing to insert here: the loader group inserts from the broker."""
        return True

    def close(self, timeout: float = 30.0) -> None:
        if self.producer is None:
            return
        left = self.producer.flush(timeout)
        self._stop.set()
        self._poller.join(5)
        if left:
            log.warning("%d messages were not delivered at shutdown", left)
