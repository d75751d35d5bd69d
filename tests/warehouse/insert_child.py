"""A process that opens a chdb folder, inserts batches of metrics under their tokens, prints
what the tables hold, and exits (or is killed): tests/warehouse/test_crash.py and
bench/crash_dedup.py run it as `python -m tests.warehouse.insert_child PATH owner|plain FIRST LAST [merge]`."""

from __future__ import annotations

import json
import sys

from tests.load.helpers import event_rows
from vitrina.streams.builtin import METRICS
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate

PER_BATCH = 300  # rows of one batch, over three days: three parts per insert


def counts(wh: Warehouse) -> dict[str, int]:
    raw = wh.query("SELECT count() FROM vitrina.metrics").result_rows[0][0]
    rollup = wh.query("SELECT countMerge(count) FROM vitrina.metrics_1s").result_rows[0][0]
    return {"raw": int(raw), "rollup": int(rollup)}


def main() -> None:
    path, owner, first, last = sys.argv[1], sys.argv[2] == "owner", int(sys.argv[3]), int(sys.argv[4])
    wh = Warehouse(parse_dsn(f"chdb://{path}", "vitrina"), owner=owner)
    migrate(wh, [METRICS])
    for batch in range(first, last):
        print(f"begin {batch}", flush=True)
        wh.insert_json_rows("metrics", event_rows(batch * PER_BATCH, PER_BATCH), token=f"batch-{batch}")
        print(f"done {batch}", flush=True)
    if sys.argv[5:] == ["merge"]:
        wh.command("OPTIMIZE TABLE vitrina.metrics FINAL")
    print(json.dumps(counts(wh)), flush=True)
    wh.close()


if __name__ == "__main__":
    main()
