"""A Kafka loader member whose insert thread dies fails loudly (so the loader group starts a
fresh member) instead of leaving its consumer waiting on a full queue; the fresh member loads
everything exactly once. In-process, against a real Tansu broker and a real chdb folder."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import confluent_kafka

from tests.conftest import wait_until
from tests.log.services import Tansu
from vitrina.config import TransportSettings
from vitrina.load.batches import LoaderMetrics
from vitrina.load.loader import KafkaLoader
from vitrina.log.kafka import ensure_topics, producer_config
from vitrina.log.naming import ROWS_HEADER, ROWS_MARK
from vitrina.selfmetrics import PipelineMetrics
from vitrina.streams.builtin import METRICS
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate

EVENTS = 600


class Crashing(KafkaLoader):
    def _load(self, b: Any, stop: threading.Event) -> bool:
        raise OSError("the insert thread dies")


def test_a_dead_insert_thread_fails_the_member_and_a_fresh_one_loads_once(tansu: Tansu, tmp_folder: Path) -> None:
    t = TransportSettings(kind="kafka", kafka=tansu.bootstrap, group="failure", session_timeout_ms=6000, batch_rows=100, linger_ms=20)
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
                Crashing(t, {"metrics": METRICS}, wh, metrics, "crashing").run(threading.Event())
            except BaseException as exc:
                failed.append(exc)

        first = threading.Thread(target=run_crashing, daemon=True)
        first.start()
        first.join(90)
        assert not first.is_alive(), "the member hung instead of failing"
        assert failed and "insert thread failed" in str(failed[0])
        assert wh.query("SELECT count() FROM vitrina.metrics").result_rows[0][0] == 0

        stop = threading.Event()
        fresh = threading.Thread(target=KafkaLoader(t, {"metrics": METRICS}, wh, metrics, "fresh").run, args=(stop,), daemon=True)
        fresh.start()
        try:
            wait_until(lambda: wh.query("SELECT count() FROM vitrina.metrics").result_rows[0][0] >= EVENTS, 90, "all events loaded")
        finally:
            stop.set()
            fresh.join(60)
        assert wh.query("SELECT count(), uniqExact(metric_name) FROM vitrina.metrics").result_rows[0] == (EVENTS, EVENTS)
    finally:
        wh.close()
