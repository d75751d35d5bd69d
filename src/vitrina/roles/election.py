"""Which `vitrina schedule` is the active one: the member of a Kafka consumer group that is
assigned the one partition of a coordination topic. The broker's group coordinator decides
(one partition has one owner in a generation of the group), so vitrina adds no consensus of
its own.

A member that stops leaves the group and the partition moves at once; a killed one is
removed when its session times out (`[transport] session_timeout_ms`), and the partition
moves then. A member cut off from the broker loses the assignment by librdkafka's own
session timer ("assignment lost"), about when the broker gives it away, and stops being
active at that moment.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, TopicPartition

from vitrina.log.kafka import ensure_topics

log = logging.getLogger(__name__)
POLL_S = 0.1


def coordination_topic(prefix: str) -> str:
    return f"{prefix}_scheduler"


class KafkaElection:
    def __init__(self, bootstrap: str, topic: str, group: str, session_timeout_ms: int, on_change: Callable[[bool], None]) -> None:
        """`on_change(active)` runs on the poll thread; with False it returns once the work of
        the active member has stopped."""
        self.bootstrap, self.topic, self.group = bootstrap, topic, group
        self.on_change = on_change
        self.session_timeout_ms = session_timeout_ms
        self.active = False  # read by the scheduler and /readyz, written by the poll thread
        self.joined = False  # a member of the group: it has had an assignment (maybe empty)
        self.error: str | None = None  # the last error the group reported, until a poll succeeds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None

    def start(self) -> None:
        ensure_topics(self.bootstrap, [self.topic], 1)
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": self.group,
                "session.timeout.ms": self.session_timeout_ms,
                "heartbeat.interval.ms": max(self.session_timeout_ms // 5, 100),
                "enable.auto.commit": False,  # nothing is read from the topic: membership only
                # The active member keeps the partition when a standby joins (no needless hand-over).
                "partition.assignment.strategy": "cooperative-sticky",
                "error_cb": self._on_error,
            }
        )
        self._consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke)
        self._thread = threading.Thread(target=self._run, name="vitrina-election", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            msg = self._consumer.poll(POLL_S)  # runs the rebalance callbacks on this thread
            error = msg.error() if msg is not None else None
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                self.error = str(error)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.error = None
        self.joined = True
        if any(p.topic == self.topic for p in partitions) and not self.active:
            log.info("scheduler election: this member is now ACTIVE")
            self.active = True
            self.on_change(True)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Blocks until the scheduler has stopped: the group gives the partition to another
        member only after every member has rejoined, so the next active one starts after."""
        if self.active and any(p.topic == self.topic for p in partitions):
            log.info("scheduler election: the partition is taken from this member: standby")
            self.active = False
            self.on_change(False)

    def _on_error(self, error: KafkaError) -> None:
        self.error = str(error)
        log.warning("scheduler election: %s", error)

    def stop(self) -> None:
        """Leave the group (the next member takes over at once); on_change(False) first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._consumer is not None:
            self._consumer.close()
