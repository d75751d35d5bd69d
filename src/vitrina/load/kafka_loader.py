"""The Kafka loader: a consumer-group member that reads, validates, batches and inserts into
ClickHouse, then commits offsets. Several loaders (threads or processes) share the topics'
partitions and rebalance when one joins, leaves or dies.

Exactly-once effect: a batch is a contiguous offset range of one partition, and its insert
carries the token `kafka:TOPIC:PARTITION:FIRST-LAST`. Offsets are committed only after the
insert (through the commit path, load/commit.py), so a crash replays the batch; its boundaries are reproducible (size cuts end on
multiples of `batch_rows`, time cuts are recorded first, load/plans.py), the token is the same
and ClickHouse (the raw table and its materialized views) drops the replay.

Threads: the consumer thread polls, cuts batches and validates those of foreign topics; one
insert thread inserts them in order and hands finished offsets back for the consumer thread to
commit.
"""

from __future__ import annotations

import bisect
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from vitrina.config import TransportSettings
from vitrina.core import Sink, describe
from vitrina.health import StorageHealth
from vitrina.intake.validate import StreamValidator
from vitrina.load.commit import Batch, Committer
from vitrina.load.metrics import LoaderMetrics
from vitrina.load.plans import Plans, create_plans_table
from vitrina.load.prepare import prepare
from vitrina.load.retry import Stopped, Stopping, retry
from vitrina.log.kafka import BROKER_DOWN, consumer_config, ensure_topics, kafka_server, quiet_client
from vitrina.log.naming import REJECTED_MARK, ROWS_HEADER, ROWS_MARK, Route, routes
from vitrina.streams.declare import Stream
from vitrina.warehouse.client import Warehouse

log = logging.getLogger(__name__)
_LAG_EVERY_S = 1.0
# Messages per consume() call. confluent-kafka builds them all while holding the GIL, so a
# smaller call lets the insert thread in sooner.
_CONSUME_BATCH = 2000
# Batches cut and waiting for the insert thread: enough to keep it busy while the consumer
# cuts the next, few enough to bound memory (each up to `batch_rows` messages).
_QUEUED_BATCHES = 3
# At most this long, a member closing before its first assignment lets its join finish.
_JOIN_FINISH_S = 15.0
# While the insert thread is busy, a batch is cut by time only after this many lingers.
_BUSY_LINGER = 5


@dataclass
class _Part:
    topic: str
    partition: int
    route: Route
    # What a batch needs of each message, kept instead of the Message objects: those are
    # tracked by the cyclic GC, and hundreds of thousands of them alive made every collection
    # walk them all (about a third of the loader's CPU, bench/transport.py).
    values: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    stamps: list[int] = field(default_factory=list)  # broker timestamps (ms), foreign topics only
    since: float = 0.0
    checked: int = -1  # the batch start whose plan was looked up
    plan_end: int | None = None
    committed: int = -1
    seen: int = -1  # highest offset consumed

    def pop_front(self, n: int) -> tuple[list[bytes], list[int], int]:
        """Remove the first `n` buffered messages: their values, offsets, and the broker
        timestamp of the last of them (0 for vitrina's own topics, which keep none)."""
        values, offsets = self.values[:n], self.offsets[:n]
        stamp = self.stamps[n - 1] if self.stamps else 0
        del self.values[:n], self.offsets[:n], self.stamps[:n]
        return values, offsets, stamp


@dataclass
class _Cut:
    """A contiguous offset range of one partition, cut from its buffer: one batch to load."""

    part: _Part
    first: int
    last: int
    values: list[bytes]
    offsets: list[int]
    stamp_ms: int  # the broker timestamp of the last message (foreign topics; else 0)
    planned: bool  # cut by time, its end recorded in the plans table
    checked: Batch | None = None  # a foreign batch, validated by the consumer thread


def _trusted(m: Message) -> bool:
    headers = m.headers()
    return headers is not None and ((ROWS_HEADER, ROWS_MARK) in headers or (ROWS_HEADER, REJECTED_MARK) in headers)


class KafkaLoader:
    def __init__(
        self,
        transport: TransportSettings,
        streams: dict[str, Stream],
        warehouse: Warehouse,
        sink: Sink,
        metrics: LoaderMetrics,
        name: str = "loader",
        health: StorageHealth | None = None,
    ) -> None:
        self.t = transport
        self.routes = routes(transport, streams)
        self.validators = {s: StreamValidator(st) for s, st in streams.items()}
        self.wh = warehouse  # where the batch plans are kept
        self.metrics = metrics
        self.name = name
        self.plans = Plans(warehouse)
        self.committer = Committer(sink, health, metrics.pipeline.observe_insert)
        self._parts: dict[tuple[str, int], _Part] = {}
        self._planned: list[_Cut] = []  # cut by time this round, plans not yet recorded
        self._work: queue.Queue[_Cut | None] = queue.Queue(maxsize=_QUEUED_BATCHES)
        self._done: queue.Queue[tuple[str, int, int]] = queue.Queue()
        self._stop = threading.Event()
        self._failed: BaseException | None = None  # the insert thread died of this
        self.consumer: Consumer | None = None
        self.health = health
        self.server = kafka_server(transport, health)
        self._assigned = False  # the group gave this member its partitions (maybe none) once
        self._waiting_said = False

    # -- consumer thread ----------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Load until `stop` is set (or `self.stop()`); then finish in-flight batches. The
        consumer is closed on every way out (a clean close leaves the group at once, so its
        partitions go to the other members without waiting for its session to time out)."""
        stop = stop or self._stop
        create_plans_table(self.wh)
        self.server.wait(stopping=stop.is_set)
        own = [r.topic for r in self.routes.values() if not r.foreign]
        ensure_topics(self.t.kafka, own, self.t.partitions, self.t.replication_factor)
        consumer = self.consumer = Consumer(self._consumer_config())
        worker = threading.Thread(target=self._insert_loop, args=(stop,), name=f"vitrina-{self.name}-insert", daemon=True)
        try:
            consumer.subscribe(list(self.routes), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
            worker.start()
            self._poll_loop(consumer, stop)
        finally:
            if worker.is_alive() and self._failed is None:
                self._work.put(None)
                worker.join(60)
            self._commit_done(asynchronous=False)
            if not self._assigned:
                self._finish_join(consumer)
            consumer.close()
            self.consumer = None
            if self.health is not None:
                self.health.member_waiting(self.name, None)

    def _finish_join(self, consumer: Consumer) -> None:
        """A member that closes while its join is in flight has no member id to leave the
        group with, and Tansu keeps it: the next member of the group then got no partitions
        for minutes (a `vitrina up` that failed right after its loader started). So the join
        is let finish first, for a bounded time; what it is given is read by nobody and
        committed by nobody, and the close then leaves the group."""
        deadline = time.monotonic() + min(self.t.session_timeout_ms / 1000, _JOIN_FINISH_S)
        while not self._assigned and time.monotonic() < deadline:
            consumer.consume(_CONSUME_BATCH, 0.1)

    def _consumer_config(self) -> dict[str, object]:
        session = self.t.session_timeout_ms
        return consumer_config(
            self.t.kafka,
            self.t.group,
            **{
                "client.id": self.name,
                "enable.auto.commit": False,
                "session.timeout.ms": session,
                "heartbeat.interval.ms": max(session // 6, 100),
                # The rebalance timeout of the classic protocol: how long a rebalance waits
                # for members to rejoin. The default (300 s) let one member that could not
                # rejoin hold every partition for minutes. A revoke waits for the batches
                # in flight (load/kafka_loader.py _on_revoke), well within this.
                "max.poll.interval.ms": self.t.max_poll_interval_ms,
                "topic.metadata.refresh.interval.ms": 5000,  # foreign topics created later
                **quiet_client(self.server),
            },
        )

    def _poll_loop(self, consumer: Consumer, stop: threading.Event) -> None:
        next_lag = 0.0
        linger = self.t.batch_linger_ms / 1000
        joined_by = time.monotonic() + self.t.assign_wait_s
        while not stop.is_set():
            self._raise_if_failed()
            msgs = consumer.consume(_CONSUME_BATCH, min(0.05, linger))
            now = time.monotonic()
            self._take(msgs, now)
            self._look_up_plans()
            for part in list(self._parts.values()):
                if part.values:
                    part.seen = max(part.seen, part.offsets[-1])
                    self._cut(part, now, linger, stop)
            self._hand_planned(stop)
            self._commit_done(asynchronous=True)
            if now >= next_lag:
                self._report_lag()
                self._check_member(now, joined_by)
                next_lag = now + _LAG_EVERY_S

    def _check_member(self, now: float, joined_by: float) -> None:
        """Once a second: whether the broker answers again, and whether this member has been
        given its partitions in time (a member that never is says so, once, and /readyz)."""
        if self.server.is_down and self.server.problem() is None:
            self.server.up()
        if self._assigned or now < joined_by or self._waiting_said:
            return
        self._waiting_said = True
        problem = (
            f"{self.name}: no partitions assigned in group {self.t.group!r} on {self.t.kafka} after {self.t.assign_wait_s:g} s; "
            "another member may hold them (see the broker's group state), or the broker cannot run the group"
        )
        log.warning("%s", problem)
        if self.health is not None:
            self.health.member_waiting(self.name, problem)

    def stop(self) -> None:
        self._stop.set()

    def _take(self, msgs: list[Message], now: float) -> None:
        """Append each message's value and offset to its partition's buffer. The hottest loop
        of the loader: one partition lookup per run of messages from the same partition."""
        parts = self._parts
        key: tuple[str | None, int | None] = ("", -1)
        skip = True  # the current run's partition was revoked meanwhile
        values: list[bytes] = []
        offsets: list[int] = []
        stamps: list[int] | None = None
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() in BROKER_DOWN:
                    self.server.down(err.str())
                elif err.code() != KafkaError._PARTITION_EOF:
                    log.warning("%s: consume error: %s", self.name, err)
                continue
            here = (m.topic(), m.partition())
            if here != key:
                key = here
                part = parts.get(here)  # type: ignore[arg-type]
                skip = part is None
                if part is None:
                    continue
                if not part.values:
                    part.since = now
                values, offsets = part.values, part.offsets
                stamps = part.stamps if part.route.foreign else None
            elif skip:
                continue
            values.append(m.value() or b"")  # a null value (a tombstone) is an empty message
            offsets.append(m.offset())  # type: ignore[arg-type]
            if stamps is not None:
                stamps.append(m.timestamp()[1])

    def _raise_if_failed(self) -> None:
        """A dead insert thread would leave the consumer waiting on a full queue for ever:
        fail instead, so that the loader group starts a fresh member, which replays from the
        committed offsets (and ClickHouse drops what was inserted twice)."""
        if self._failed is not None:
            raise RuntimeError(f"{self.name}: the insert thread failed") from self._failed

    def _cut(self, part: _Part, now: float, linger: float, stop: threading.Event) -> None:
        size = self.t.batch_rows
        while part.values:
            first = part.offsets[0]
            if part.checked != first:
                part.checked = first
                part.plan_end = self.plans.lookup(part.topic, part.partition, first)
            end = part.plan_end if part.plan_end is not None else (first // size + 1) * size - 1
            if part.offsets[-1] >= end:
                n = bisect.bisect_right(part.offsets, end)
                self._hand(part, first, end, n, stop)
                part.plan_end = None
                part.since = now
            elif part.plan_end is None and now - part.since >= (linger if self._work.unfinished_tasks == 0 else linger * _BUSY_LINGER):
                # Cut by time: after `linger` while the insert thread is idle; while it is busy,
                # the batch grows towards `batch_rows` instead (fewer, larger inserts cost
                # ClickHouse a quarter less per row, bench/insert_cost.py), for at most
                # _BUSY_LINGER lingers (a quiet partition beside a busy one still gets in).
                # Handed over once its plan is recorded (all of this round's in one insert).
                self._planned.append(_Cut(part, first, part.offsets[-1], *part.pop_front(len(part.values)), True))
            else:
                return

    def _look_up_plans(self) -> None:
        """Every batch start is checked for a plan, in one query per round: a previous owner
        may have inserted several batches whose commits never reached the broker."""
        todo = [p for p in self._parts.values() if p.values and p.checked != p.offsets[0]]
        if not todo:
            return
        found = self.plans.lookup_many([(p.topic, p.partition, p.offsets[0]) for p in todo])
        for p in todo:
            p.checked = p.offsets[0]
            p.plan_end = found.get((p.topic, p.partition, p.offsets[0]))
            if p.plan_end is not None:
                log.info("%s: replaying planned batch %s[%d] %d-%d", self.name, p.topic, p.partition, p.offsets[0], p.plan_end)

    def _hand_planned(self, stop: threading.Event) -> None:
        if not self._planned:
            return
        batches, self._planned = self._planned, []
        plans = [(b.part.topic, b.part.partition, b.first, b.last) for b in batches]
        try:
            retry("recording batch plans", lambda: self.plans.record(plans), stop.is_set, self._failed_step)
        except Stopped:
            return  # stopping: these batches are read again by the next owner
        for b in batches:
            self._put(b, stop)

    def _hand(self, part: _Part, first: int, last: int, n: int, stop: threading.Event) -> None:
        """A batch cut by size: its end follows from the rule, no plan needed."""
        self._put(_Cut(part, first, last, *part.pop_front(n), False), stop)

    def _put(self, batch: _Cut, stop: threading.Event) -> None:
        if batch.part.route.foreign:
            # Validated here, while the insert thread inserts the batch before: the two
            # overlap (chdb lets go of the GIL while it inserts): 15 % more foreign events per
            # second (bench.compare ... transport, docs/PERFORMANCE.md). The messages are not
            # needed any more.
            batch.checked = self._checked(self._batch(batch), batch, stop.is_set)
            batch.values = []
        while not stop.is_set():
            self._raise_if_failed()
            try:
                self._work.put(batch, timeout=0.1)
                return
            except queue.Full:
                # librdkafka heartbeats from its own thread; meanwhile commit what is done.
                self._commit_done(asynchronous=True)

    def _commit_done(self, *, asynchronous: bool) -> None:
        offsets = {}
        while True:
            try:
                topic, partition, offset = self._done.get_nowait()
            except queue.Empty:
                break
            offsets[(topic, partition)] = offset
            part = self._parts.get((topic, partition))
            if part is not None:
                part.committed = offset
        if offsets and self.consumer is not None:
            tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
            try:
                if asynchronous:
                    self.consumer.commit(offsets=tps, asynchronous=True)
                else:
                    self.consumer.commit(offsets=tps, asynchronous=False)
            except Exception as exc:  # a commit lost to a rebalance: the batch is replayed, deduplicated
                log.warning("%s: commit failed: %s", self.name, exc)

    def _report_lag(self) -> None:
        if self.consumer is None:
            return
        for part in list(self._parts.values()):
            # Tansu reports the high watermark as the last batch's base offset + 1, so the
            # highest offset consumed bounds it from below.
            try:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(part.topic, part.partition), cached=True)
            except Exception:
                high = -1
            end = max(high, part.seen + 1)
            base = part.committed if part.committed >= 0 else (part.offsets[0] if part.offsets else end)
            self.metrics.lag.labels(part.topic, str(part.partition)).set(max(end - base, 0))

    # -- rebalance callbacks (run inside consume()) ----------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            route = self.routes.get(tp.topic)
            if route is not None:
                self._parts[(tp.topic, tp.partition)] = _Part(tp.topic, tp.partition, route)
        self._assigned = True
        if self._waiting_said:
            self._waiting_said = False
            log.warning("%s: partitions assigned at last", self.name)
        if self.health is not None:
            self.health.member_waiting(self.name, None)
        log.info("%s: assigned %s", self.name, sorted((tp.topic, tp.partition) for tp in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Finish the batches already handed to the insert thread, so that the next owner
        # finds their plans and commits; buffered messages are simply read again by it.
        self._work.join()
        self._commit_done(asynchronous=False)
        self._drop(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._work.join()
        self._drop(partitions)

    def _drop(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._parts.pop((tp.topic, tp.partition), None)
            self.metrics.lag.labels(tp.topic, str(tp.partition)).set(0)

    # -- insert thread ------------------------------------------------------------------------

    def _insert_loop(self, stop: threading.Event) -> None:
        while True:
            cut = self._work.get()
            try:
                if cut is None:
                    return
                if self._load(cut, stop):
                    self._done.put((cut.part.topic, cut.part.partition, cut.last + 1))
            except BaseException as exc:
                log.exception("%s: inserting a batch failed; this loader member stops", self.name)
                self._failed = exc
                _drain(self._work)  # a rebalance callback may be waiting in join()
                return
            finally:
                self._work.task_done()

    def _load(self, cut: _Cut, stop: threading.Event) -> bool:
        """Insert a batch, then its dead letters; False if stopped first (the next owner
        replays the batch: the same offsets, the same token)."""
        batch = self._batch(cut)
        try:
            stored = None if cut.part.route.foreign else self._as_they_are(batch, cut.values, stop.is_set)
            if stored is None:
                checked = cut.checked if cut.checked is not None else self._checked(batch, cut, stop.is_set)
                stored = self.committer.commit(checked, stop.is_set)
        except Stopped:
            return False
        self.metrics.loaded_batch(cut.part.topic, stored)
        return True

    @staticmethod
    def _batch(cut: _Cut) -> Batch:
        """The batch of a cut, named by its place in the log: the same on every replay."""
        p = cut.part
        return Batch(p.route.table, f"kafka:{p.topic}:{p.partition}:{cut.first}-{cut.last}", source="kafka")

    def _as_they_are(self, batch: Batch, values: list[bytes], stopping: Stopping) -> Batch | None:
        """vitrina's own topics hold rows the intake validated: insert them as they are
        (reading each message's headers would cost more than the insert). None when the sink
        refused the batch for its data: the caller then checks it message by message, under
        the same token (a refused insert stored nothing). Any other failure is retried under
        the token until the insert is complete."""
        if b"" in values:
            return None  # ClickHouse would skip the empty line: validate, so it becomes a dead letter
        whole = Batch(batch.table, batch.token, b"\n".join(values) + b"\n", len(values), batch.source)
        refusal = self.committer.attempt(whole, stopping)
        if refusal is None:
            return whole
        log.warning("insert into %s refused, checking each message: %s", batch.table, describe(refusal))  # a foreign message in our topic
        return None

    def _checked(self, batch: Batch, cut: _Cut, stopping: Stopping) -> Batch:
        """Foreign topics, or an own topic whose batch ClickHouse refused: validate what is not
        vitrina's rows; bad messages become dead letters. Raises Stopped."""
        p = cut.part
        if p.route.foreign:
            trusted = [False] * len(cut.values)
            # Times missing from an event default to the broker's timestamp of the last
            # message: the same on every replay of the batch.
            arrival_ns = cut.stamp_ms * 1_000_000 if cut.stamp_ms > 0 else time.time_ns()
        else:
            # Which messages carry vitrina's header is only known from the messages
            # themselves: read the batch again (a rare path; the buffer keeps values only).
            where = f"reading {p.topic}[{p.partition}] {cut.first}-{cut.last} again"
            found = retry(where, lambda: self._reread(p.topic, p.partition, cut.first, cut.last), stopping, self._failed_step)
            by_offset = {m.offset(): m for m in found}
            trusted = [(m := by_offset.get(o)) is not None and _trusted(m) for o in cut.offsets]
            arrival_ns = time.time_ns()  # vitrina's rows carry their times
        offsets = cut.offsets
        validator = self.validators.get(p.route.stream)
        return prepare(batch, validator, cut.values, trusted, lambda i: f"{p.topic}/{p.partition}/{offsets[i]}", arrival_ns)

    def _failed_step(self, what: str, exc: BaseException) -> None:
        log.warning("%s: %s failed, retrying: %s", self.name, what, describe(exc))

    def _reread(self, topic: str, partition: int, first: int, last: int) -> list[Message]:
        """The messages of one partition from `first` to `last`, with their headers, read by
        a consumer of its own (assigned, so it joins no group and commits nothing)."""
        c = Consumer(consumer_config(self.t.kafka, f"{self.t.group}-reread", **{"enable.auto.commit": False, **quiet_client(self.server)}))
        try:
            c.assign([TopicPartition(topic, partition, first)])
            out: list[Message] = []
            deadline = time.monotonic() + 30
            while not out or out[-1].offset() < last:  # type: ignore[operator]
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topic}[{partition}]: offsets {first}-{last} not read back in 30 s")
                for m in c.consume(10_000, 0.5):
                    if m.error() is None and first <= m.offset() <= last:  # type: ignore[operator]
                        out.append(m)
            return out
        finally:
            c.close()


def _drain(q: queue.Queue[_Cut | None]) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return
        q.task_done()
