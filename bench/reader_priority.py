"""How much CPU-heavy readers slow inserts, with and without ClickHouse query priorities.

    .venv/bin/python -m bench.reader_priority [--readers 2] [--repeats 5]

In one process on a temporary chdb folder (as under `vitrina up`): the time of 8 inserts of
500,000 rows alone, then while `--readers` sessions loop a heavy query, once with no
priorities and once as vitrina sets them (inserts INSERT_PRIORITY, readers READER_PRIORITY).
Medians of `--repeats` alternating runs, so a busy machine hits every case alike.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from vitrina.warehouse.client import INSERT_PRIORITY, READER_PRIORITY

HEAVY = "SELECT uniqExact(cityHash64(number)) FROM numbers(5000000)"


def inserts(client: Client, priority: int) -> float:
    settings = {"priority": priority} if priority else {}
    started = time.monotonic()
    for _ in range(8):
        client.command("INSERT INTO bench.t SELECT number, toString(number) FROM numbers(500000)", settings=settings)
    return time.monotonic() - started


def readers(dsn: str, n: int, priority: int, stop: threading.Event, done: list[int]) -> list[threading.Thread]:
    def loop() -> None:
        client = clickhouse_connect.get_client(dsn=dsn, database=None)
        client.command("SET max_threads = 2")
        if priority:
            client.command(f"SET priority = {priority}")
        while not stop.is_set():
            client.raw_query(HEAVY)
            done.append(1)
        client.close()

    threads = [threading.Thread(target=loop) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vitrina-bench-"))
    dsn = f"chdb://{folder}"
    writer = clickhouse_connect.get_client(dsn=dsn, database=None)
    writer.command("CREATE DATABASE bench")
    writer.command("CREATE TABLE bench.t (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
    cases = {"alone": (0, None), "readers, no priorities": (0, 0), "readers, vitrina's priorities": (INSERT_PRIORITY, READER_PRIORITY)}
    took: dict[str, list[float]] = {c: [] for c in cases}
    rate: dict[str, list[float]] = {c: [] for c in cases}
    try:
        for _ in range(args.repeats):
            for case, (insert_priority, reader_priority) in cases.items():
                stop, done = threading.Event(), []  # type: ignore[var-annotated]
                threads = [] if reader_priority is None else readers(dsn, args.readers, reader_priority, stop, done)
                while len(done) < len(threads):  # every reader has run a query: they are busy
                    time.sleep(0.01)
                started, before = time.monotonic(), len(done)
                took[case].append(inserts(writer, insert_priority))
                rate[case].append((len(done) - before) / (time.monotonic() - started))
                stop.set()
                for t in threads:
                    t.join()
    finally:
        writer.close()
        shutil.rmtree(folder, ignore_errors=True)
    alone = statistics.median(took["alone"])
    print(f"{'case':<32} {'inserts s':>10} {'vs alone':>9} {'reader queries/s':>17}")
    for case in cases:
        median = statistics.median(took[case])
        print(f"{case:<32} {median:>10.2f} {median / alone:>8.1f}x {statistics.median(rate[case]):>17.1f}")


if __name__ == "__main__":
    main()
