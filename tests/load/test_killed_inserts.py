"""A reader that kills inserts in a loop cannot break exactly-once: a cancelled insert is
retried under the same token (ClickHouse completes whatever part of it was stored, raw table
and views), never split and never called refused. In-process, against a real chdb folder; the
killer is a second chdb handle on the same path, as a reader's session would be."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest

from vitrina.load.storing import NullCopy
from vitrina.load.wal import WriteAheadLog
from vitrina.load.wal_loader import WalLoader
from vitrina.streams.builtin import METRICS
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate

EVENTS = 30_000
PER_RECORD = 500


class Killer:
    """Kills inserts into vitrina's tables with KILL QUERY from its own handle: each insert
    attempt, with probability `share`, at a random moment of its run (from before its first
    block to after its raw part is committed). Counts the kills."""

    def __init__(self, path: Path, share: float = 0.75, within_s: float = 0.03) -> None:
        self.client = clickhouse_connect.get_client(dsn=f"chdb://{path.resolve()}", database=None)
        self.share, self.within_s = share, within_s
        self.killed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng = random.Random(7)
        kill_at: dict[str, float | None] = {}  # query id -> seconds into its run, None: spared
        while not self._stop.wait(0.002):
            running = self.client.query(
                "SELECT query_id, elapsed FROM system.processes WHERE query_kind = 'Insert' AND query ILIKE 'INSERT INTO vitrina.%'"
            ).result_rows
            for query_id, elapsed in running:
                if query_id not in kill_at:
                    kill_at[query_id] = rng.random() * self.within_s if rng.random() < self.share else None
                at = kill_at[query_id]
                if at is not None and elapsed >= at:
                    self.client.command(f"KILL QUERY WHERE query_id = '{query_id}' ASYNC")
                    self.killed += 1
                    kill_at[query_id] = None

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self.client.close()


@pytest.fixture
def warehouse(tmp_folder: Path) -> Iterator[Warehouse]:
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    migrate(wh, [METRICS])
    yield wh
    wh.close()


def event_rows(first: int, n: int) -> bytes:
    """Events with their id as the value, over three days (three partitions per insert)."""
    return b"".join(
        b'{"time":"2025-01-0%dT00:00:%02dZ","metric_name":"killed","metric_value":%d}\n' % (1 + i % 3, i % 60, i)
        for i in range(first, first + n)
    )


def assert_each_event_once(wh: Warehouse, events: int) -> None:
    twice = wh.query("SELECT metric_value, count() AS n FROM vitrina.metrics GROUP BY metric_value HAVING n > 1 LIMIT 5").result_rows
    stored = wh.query("SELECT count(), uniqExact(metric_value), min(metric_value), max(metric_value) FROM vitrina.metrics").result_rows[0]
    rejected = wh.query("SELECT count(), any(reason) FROM vitrina.rejected").result_rows[0]
    assert rejected[0] == 0, f"{rejected[0]} good rows were moved to rejected, e.g. {rejected[1]!r}"
    assert not twice, f"stored twice: {twice}"
    assert stored == (events, events, 0, events - 1), f"stored {stored[0]} rows, {stored[1]} distinct ids, of {events}"
    for rollup in ("metrics_1s", "metrics_1m"):
        count, total = wh.query(f"SELECT countMerge(count), sumMerge(sum) FROM vitrina.{rollup}").result_rows[0]
        assert (count, total) == (events, events * (events - 1) / 2), f"{rollup}: {count} events, sum {total}"


def test_killing_inserts_in_a_loop_leaves_every_event_once(
    tmp_folder: Path, warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "vitrina.load.storing")  # one warning per killed insert
    wal = WriteAheadLog(tmp_folder / "wal", durable=False)
    loader = WalLoader(wal, warehouse.insert_json_rows, interval_ms=50, flush_rows=3_000, max_insert_rows=3_000, check=NullCopy(warehouse))
    loader.start()
    with Killer(tmp_folder / "ch") as killer:
        for first in range(0, EVENTS, PER_RECORD):  # appended while the loader inserts, as intake does
            loader.add(wal.append([("metrics", event_rows(first, PER_RECORD), PER_RECORD)]))
        assert loader.flush(240), "the log was not loaded within 240 s"
        assert killer.killed >= 10, f"only {killer.killed} inserts were killed: the test did not test"
    loader.close()
    wal.close()
    assert_each_event_once(warehouse, EVENTS)
