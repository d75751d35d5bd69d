"""CPU per row of chdb inserts with the rollup views and the merges they cause: the
warehouse's share of the Kafka loader's work (bench/transport.py).

1. `metrics` by input format: JSONEachRow is what vitrina's topics carry; RowBinary and Native
   show what a binary topic format would save.
2. JSONEachRow into `metrics` and `uploads` with ClickHouse's parallel parsing on (its default,
   which vitrina keeps) and off, interleaved with the order flipped every round (the second
   of a pair tends to cost less), medians of `--rounds`.

    .venv/bin/python -m bench.insert_cost [--rows 1000000] [--batch 100000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import report
from bench.transport import idle_merges, row, upload_row, warehouse
from vitrina.warehouse.client import Warehouse

COLUMNS = ["time", "metric_name", "metric_value", "tags"]
PARSING = {"on (ClickHouse's default, vitrina's)": 1, "off": 0}


def cpu_per_row(wh: Warehouse, table: str, fmt: str, blocks: list[bytes], rows: int, tag: str, **settings: Any) -> float:
    """CPU µs per row: the inserts, then the merges they cause, until none runs."""
    # binary formats carry no names: the columns are named (`_received` takes its default)
    columns = COLUMNS if table == "metrics" else None
    idle_merges(wh)
    cpu = time.process_time()
    for i, block in enumerate(blocks):
        s = {**wh.insert_settings, **settings, "insert_deduplication_token": f"{tag}:{i}"}
        wh._insert_client.raw_insert(f"vitrina.{table}", columns, block, fmt=fmt, settings=s)
    time.sleep(0.5)  # merges are scheduled a little after the inserts
    idle_merges(wh)
    return (time.process_time() - cpu) / rows * 1e6


def by_format(wh: Warehouse, json_blocks: list[bytes], batch: int) -> dict[str, float]:
    wh.command("CREATE TABLE vitrina.staged AS vitrina.metrics ENGINE = Memory")
    for block in json_blocks:
        wh.client.raw_insert("vitrina.staged", COLUMNS, block, fmt="JSONEachRow")
    cols = ", ".join(COLUMNS)

    def encoded(fmt: str) -> list[bytes]:
        q = f"SELECT {cols} FROM vitrina.staged LIMIT {batch} OFFSET {{}}"
        return [wh.client.raw_query(q.format(k * batch), fmt=fmt) for k in range(len(json_blocks))]

    formats = {"JSONEachRow": json_blocks, "RowBinary": encoded("RowBinary"), "Native": encoded("Native")}
    rows = len(json_blocks) * batch
    return {fmt: cpu_per_row(wh, "metrics", fmt, blocks, rows, fmt) for fmt, blocks in formats.items()}


def by_parsing(wh: Warehouse, blocks: dict[str, list[bytes]], batch: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median CPU µs per row for each table and parallel-parsing setting, interleaved."""
    runs: dict[str, dict[str, list[float]]] = {t: {p: [] for p in PARSING} for t in blocks}
    for r in range(rounds):
        for table, bs in blocks.items():
            for label, on in PARSING.items() if r % 2 == 0 else reversed(PARSING.items()):
                us = cpu_per_row(wh, table, "JSONEachRow", bs, len(bs) * batch, f"{table}:{on}:{r}", input_format_parallel_parsing=on)
                runs[table][label].append(us)
    return {t: {p: statistics.median(v) for p, v in per.items()} for t, per in runs.items()}


def blocks_of(make: Callable[[int], bytes], n: int, batch: int, first: int = 0) -> list[bytes]:
    return [b"\n".join(make(first + k * batch + i) for i in range(batch)) + b"\n" for k in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vitrina-bench-insert-"))
    n = args.rows // args.batch
    try:
        wh = warehouse(folder)
        formats = by_format(wh, blocks_of(row, n, args.batch), args.batch)
        # fresh events for the second part (its tokens and times differ from the first's)
        half = max(1, n // 2)
        fresh = {"metrics": blocks_of(row, half, args.batch, args.rows), "uploads": blocks_of(upload_row, half, args.batch)}
        parsing = by_parsing(wh, fresh, args.batch, args.rounds)
        wh.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = [(f"{fmt} into metrics, {args.batch:,}-row inserts", f"{us:.2f} µs CPU per row") for fmt, us in formats.items()]
    for table, per in parsing.items():
        lines += [(f"JSONEachRow into {table}, parallel parsing {label}", f"{us:.2f} µs CPU per row") for label, us in per.items()]
        on, off = per.values()
        lines.append((f"  {table}: off / on", f"{off / on:.0%}"))
    data = {"rows": args.rows, "batch": args.batch, "rounds": args.rounds, "cpu_us_per_row": formats, "parallel_parsing": parsing}
    report("insert_cost", lines, data)


if __name__ == "__main__":
    main()
