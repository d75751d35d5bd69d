"""A Kafka loader member whose insert thread dies fails loudly (so the loader group starts a
fresh member) instead of leaving its consumer waiting on a full queue; the fresh member loads
everything exactly once. A Kafka loader whose inserts a reader kills in a loop loads every
event exactly once. In-process, against a real Tansu broker and a real chdb folder."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import confluent_kafka

from tests.conftest import wait_until
from tests.load.helpers import Killer, assert_each_event_once, event_rows
from tests.log.services import Tansu
from vitrina.config import TransportSettings
from vitrina.load.kafka_loader import KafkaLoader
from vitrina.load.metrics import LoaderMetrics
from vitrina.log.kafka import ensure_topics, producer_config
from vitrina.log.naming import ROWS_HEADER, ROWS_MARK
from vitrina.selfmetrics import PipelineMetrics
from vitrina.streams.builtin import METRICS
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate
from vitrina.warehouse.sink import WarehouseSink

EVENTS = 600
KILLED_EVENTS = 30_000


class Crashing(KafkaLoader):
    def _load(self, b: Any, stop: threading.Event) -> bool:
        raise OSError("the insert thread dies")


def test_a_dead_insert_thread_fails_the_member_and_a_fresh_one_loads_once(tansu: Tansu, tmp_folder: Path) -> None:
    t = TransportSettings(kind="kafka", kafka=tansu.bootstrap, group="failure", session_timeout_ms=6000, batch_rows=100, batch_linger_ms=20)
    ensure_topics(tansu.bootstrap, ["vitrina.metrics"], t.partitions)
    producer = confluent_kafka.Producer(producer_config(tansu.bootstrap))
    for i in range(EVENTS):
        row = b'{"time":"1763800000.%03d","metric_name":"fail-%d","metric_value":1,"tags":{}}' % (i % 1000, i)
        producer.produce("vitrina.metrics", row, b"%d" % (i % 8), headers=[(ROWS_HEADER, ROWS_MARK)])
    assert producer.flush(30) == 0
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    try:
        migrate(wh, [METRICS])
        metrics = LoaderMetrics(PipelineMetrics(lambda: 0))
        failed: list[BaseException] = []

        def run_crashing() -> None:
            try:
                Crashing(t, {"metrics": METRICS}, wh, WarehouseSink(wh), metrics, "crashing").run(threading.Event())
            except BaseException as exc:
                failed.append(exc)

        first = threading.Thread(target=run_crashing, daemon=True)
        first.start()
        first.join(90)
        assert not first.is_alive(), "the member hung instead of failing"
        assert failed and "insert thread failed" in str(failed[0])
        assert wh.query("SELECT count() FROM vitrina.metrics").result_rows[0][0] == 0

        stop = threading.Event()
        fresh_loader = KafkaLoader(t, {"metrics": METRICS}, wh, WarehouseSink(wh), metrics, "fresh")
        fresh = threading.Thread(target=fresh_loader.run, args=(stop,), daemon=True)
        fresh.start()
        try:
            wait_until(lambda: wh.query("SELECT count() FROM vitrina.metrics").result_rows[0][0] >= EVENTS, 90, "all events loaded")
        finally:
            stop.set()
            fresh.join(60)
        assert wh.query("SELECT count(), uniqExact(metric_name) FROM vitrina.metrics").result_rows[0] == (EVENTS, EVENTS)
    finally:
        wh.close()


def test_the_kafka_loader_under_killed_inserts_loads_every_event_once(tansu: Tansu, tmp_folder: Path) -> None:
    t = TransportSettings(
        kind="kafka", kafka=tansu.bootstrap, group="killed", session_timeout_ms=6000, batch_rows=2_000, batch_linger_ms=20
    )
    ensure_topics(tansu.bootstrap, ["vitrina.metrics"], t.partitions)
    producer = confluent_kafka.Producer(producer_config(tansu.bootstrap))
    for line in event_rows(0, KILLED_EVENTS).splitlines():
        producer.produce("vitrina.metrics", line, b"%d" % (len(line) % 4), headers=[(ROWS_HEADER, ROWS_MARK)])
    assert producer.flush(60) == 0
    warehouse = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    try:
        migrate(warehouse, [METRICS])
        metrics = LoaderMetrics(PipelineMetrics(lambda: 0))
        loader = KafkaLoader(t, {"metrics": METRICS}, warehouse, WarehouseSink(warehouse), metrics, "killed")
        stop = threading.Event()
        thread = threading.Thread(target=loader.run, args=(stop,), daemon=True)
        with Killer(tmp_folder / "ch") as killer:
            thread.start()
            try:
                wait_until(lambda: rolled_up(warehouse) >= KILLED_EVENTS, 240, "every event in the rollups")
            finally:
                stop.set()
                thread.join(60)
            assert killer.killed >= 10, f"only {killer.killed} inserts were killed: the test did not test"
        assert_each_event_once(warehouse, KILLED_EVENTS)
    finally:
        warehouse.close()


def rolled_up(wh: Warehouse) -> int:
    return int(wh.query("SELECT countMerge(count) FROM vitrina.metrics_1m").result_rows[0][0])
