"""Where the Kafka loader cuts a partition's buffer into batches, without a broker: by size on
multiples of `batch_rows`; by time after `linger` while the insert thread is idle, and while it
is busy only after _BUSY_LINGER lingers, so that batches grow under load but a quiet partition
is never held back for long."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from vitrina.config import TransportSettings
from vitrina.load.kafka_loader import _BUSY_LINGER, KafkaLoader, _Cut, _Part
from vitrina.load.metrics import LoaderMetrics
from vitrina.load.plans import create_plans_table
from vitrina.log.naming import Route
from vitrina.selfmetrics import PipelineMetrics
from vitrina.streams.builtin import BUILTIN
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.sink import WarehouseSink

LINGER = 0.2


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """A real chdb folder with the plans table, where the loader looks up batch starts."""
    wh = Warehouse(parse_dsn(f"chdb://{tmp_path_factory.mktemp('cuts')}", "vitrina"))
    create_plans_table(wh)
    yield wh
    wh.close()


def loader(wh: Warehouse) -> KafkaLoader:
    t = TransportSettings(kind="kafka", kafka="127.0.0.1:1", batch_linger_ms=LINGER * 1000, batch_rows=100)
    metrics = LoaderMetrics(PipelineMetrics(lambda: 0))
    return KafkaLoader(t, {"metrics": next(s for s in BUILTIN if s.name == "metrics")}, wh, WarehouseSink(wh), metrics)


def part(offsets: range, since: float) -> _Part:
    p = _Part("vitrina.metrics", 0, Route("vitrina.metrics", "metrics"), since=since)
    p.values = [b"{}"] * len(offsets)
    p.offsets = list(offsets)
    p.checked = offsets[0]  # its start was looked up: no plan
    return p


def test_time_cuts_wait_longer_while_the_insert_thread_is_busy(warehouse: Warehouse) -> None:
    stop = threading.Event()
    idle = loader(warehouse)
    p = part(range(10, 20), since=100.0)
    idle._cut(p, 100.0 + LINGER / 2, LINGER, stop)
    assert idle._planned == [] and len(p.values) == 10  # younger than linger
    idle._cut(p, 100.0 + LINGER, LINGER, stop)
    assert [(b.first, b.last, b.planned) for b in idle._planned] == [(10, 19, True)] and p.values == []

    busy = loader(warehouse)
    busy._work.put(_Cut(p, 0, 9, [b"{}"] * 10, list(range(10)), 0, False))  # the insert thread has work
    q = part(range(10, 20), since=100.0)
    busy._cut(q, 100.0 + LINGER, LINGER, stop)
    assert busy._planned == [] and len(q.values) == 10  # grows instead
    busy._cut(q, 100.0 + LINGER * _BUSY_LINGER, LINGER, stop)
    assert [(b.first, b.last) for b in busy._planned] == [(10, 19)]  # but not for ever


def test_size_cuts_end_on_multiples_of_batch_rows_busy_or_not(warehouse: Warehouse) -> None:
    stop = threading.Event()
    busy = loader(warehouse)
    busy._work.put(None)
    p = part(range(150, 260), since=100.0)
    busy._cut(p, 100.0, LINGER, stop)
    handed = [busy._work.get_nowait() for _ in range(busy._work.qsize())][1:]
    assert [(b.first, b.last, b.planned) for b in handed if b is not None] == [(150, 199, False)]
    assert p.offsets[0] == 200 and len(p.values) == 60  # 200..259 wait for 299, or for time
