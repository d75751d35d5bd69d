"""CPU per row of chdb inserts into the `metrics` table with its two rollup views, by input
format: the warehouse's share of the Kafka loader's work (bench/transport.py). JSONEachRow is
what vitrina's topics carry; RowBinary and Native show what a binary topic format would save.

    .venv/bin/python -m bench.insert_cost [--rows 1000000] [--batch 100000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import report
from bench.transport import row, warehouse
from vitrina.warehouse.client import Warehouse

COLUMNS = ["time", "metric_name", "metric_value", "tags"]


def idle_merges(wh: Warehouse) -> None:
    """Wait until no merge runs, so that the next measurement pays only for its own."""
    deadline = time.monotonic() + 60
    while wh.query("SELECT count() FROM system.merges").result_rows[0][0] and time.monotonic() < deadline:
        time.sleep(0.05)


def cpu_per_row(wh: Warehouse, fmt: str, blocks: list[bytes], rows: int, tag: str) -> float:
    """CPU µs per row: the inserts, then the merges they cause, until none runs."""
    idle_merges(wh)
    cpu = time.process_time()
    for i, block in enumerate(blocks):
        settings = {**wh.insert_settings, "insert_deduplication_token": f"{tag}:{i}"}
        wh._insert_client.raw_insert("vitrina.metrics", COLUMNS, block, fmt=fmt, settings=settings)
    time.sleep(0.5)  # merges are scheduled a little after the inserts
    idle_merges(wh)
    return (time.process_time() - cpu) / rows * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vitrina-bench-insert-"))
    try:
        wh = warehouse(folder)
        n = args.rows // args.batch
        json_blocks = [b"\n".join(row(k * args.batch + i) for i in range(args.batch)) + b"\n" for k in range(n)]
        wh.command("CREATE TABLE vitrina.staged AS vitrina.metrics ENGINE = Memory")
        for block in json_blocks:
            wh.client.raw_insert("vitrina.staged", COLUMNS, block, fmt="JSONEachRow")
        cols = ", ".join(COLUMNS)

        def encoded(fmt: str) -> list[bytes]:
            q = f"SELECT {cols} FROM vitrina.staged LIMIT {args.batch} OFFSET {{}}"
            return [wh.client.raw_query(q.format(k * args.batch), fmt=fmt) for k in range(n)]

        formats = {"JSONEachRow": json_blocks, "RowBinary": encoded("RowBinary"), "Native": encoded("Native")}
        results = {fmt: cpu_per_row(wh, fmt, blocks, n * args.batch, fmt) for fmt, blocks in formats.items()}
        wh.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(
        "insert_cost",
        [(f"{fmt}, {args.batch:,}-row inserts", f"{us:.2f} µs CPU per row") for fmt, us in results.items()],
        {"rows": args.rows, "batch": args.batch, "cpu_us_per_row": results},
    )


if __name__ == "__main__":
    main()
