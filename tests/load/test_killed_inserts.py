"""A reader that kills inserts in a loop cannot break exactly-once: a cancelled insert is
retried under the same token (ClickHouse completes whatever part of it was stored, raw table
and views), never split and never called refused. The write-ahead log's loader here, the
Kafka loader in tests/log/test_loader_failure.py. In-process, against a real chdb folder; the
killer is a second chdb handle on the same path, as a reader's session would be."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.load.helpers import Killer, assert_each_event_once, event_rows
from vitrina.load.wal_loader import WalLoader
from vitrina.log.wal import WriteAheadLog
from vitrina.streams.builtin import METRICS
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate
from vitrina.warehouse.sink import WarehouseSink

EVENTS = 30_000
PER_RECORD = 500


@pytest.fixture
def warehouse(tmp_folder: Path) -> Iterator[Warehouse]:
    """A chdb folder with the metrics stream (tmp_folder/ch)."""
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    migrate(wh, [METRICS])
    yield wh
    wh.close()


def test_killing_inserts_in_a_loop_leaves_every_event_once(
    tmp_folder: Path, warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "vitrina.load.storing")  # one warning per killed insert
    wal = WriteAheadLog(tmp_folder / "wal", durable=False)
    loader = WalLoader(wal, WarehouseSink(warehouse), interval_ms=50, batch_rows=3_000, max_insert_rows=3_000)
    loader.start()
    with Killer(tmp_folder / "ch") as killer:
        for first in range(0, EVENTS, PER_RECORD):  # appended while the loader inserts, as intake does
            loader.add(wal.append([("metrics", event_rows(first, PER_RECORD), PER_RECORD)]))
        assert loader.flush(240), "the log was not loaded within 240 s"
        assert killer.killed >= 10, f"only {killer.killed} inserts were killed: the test did not test"
    loader.close()
    wal.close()
    assert_each_event_once(warehouse, EVENTS)
