"""Killing inserts from a reader's handle, and checking that a load stored each event once."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import clickhouse_connect

from vitrina.warehouse.client import Warehouse


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
