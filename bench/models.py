"""Model runs over millions of raw events: fills the raw tables of a temp chdb folder with
INSERT ... SELECT FROM numbers() (spread over 7 days), runs every model in full, then once
incrementally (the last day's look-back), and prints the duration of each.

    python -m bench.models [--events 10000000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from vitrina.alerts.figures import BUILTIN_FIGURES
from vitrina.alerts.source import SqlFigures
from vitrina.models.db import Db
from vitrina.models.runner import ModelRunner
from vitrina.models.settings import ModelSettings
from vitrina.models.spec import builtin_models
from vitrina.streams.builtin import BUILTIN
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate

DAYS = 7
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_S = DAYS * 86400


def _fill(wh: Warehouse, events: int) -> dict[str, int]:
    """Share the events between the streams roughly as the simulator does."""
    t0 = int(START.timestamp())
    shares = {"site_events": 0.3, "uploads": 0.3, "store_events": 0.25, "probes": 0.1, "quotes": 0.05}
    counts = {k: int(events * v) for k, v in shares.items()}
    at = f"{t0} + intDiv(number * {SPAN_S}, {{n}})"  # evenly over the days, in time order
    db = wh.database
    n = counts["site_events"]
    wh.command(
        f"INSERT INTO {db}.site_events (dt, name, user_id, url, obj, obj_id, product_id, amount) "
        f"SELECT toDateTime64({at.format(n=n)} + (number % 1000) / 1000, 3, 'UTC'), "
        "if(number % 7 = 0, 'click', 'view'), cityHash64(number) % 50000, 'https://shop/x', "
        "multiIf(number % 7 = 0, 'button', number % 5 = 0, 'url', 'page'), "
        "if(number % 7 = 0, ['add_to_cart', 'checkout', 'register'][number % 3 + 1], ''), number % 4 + 1, (number % 4) * 10 "
        f"FROM numbers({n})"
    )
    n = counts["uploads"]
    wh.command(
        f"INSERT INTO {db}.uploads (ts_ns, item_id, company_id, category_id, origin, country, url_by_media, event, up_ts, is_created) "
        f"SELECT toUInt64({at.format(n=n)}) * 1000000000 + number % 1000000000 AS ts, 1000000000 + intDiv(number, 3) AS item, "
        "1000 + cityHash64(intDiv(number, 3)) % 9000, number % 500 + 1, 'upload/api', ['RU', 'CN', 'US', 'DE'][number % 4 + 1], "
        "map(concat('jpg:https://', ['cdn.host', 'images.example.com', 'localhost'][number % 3 + 1], '/1.jpg'), 1000), "
        "if(number % 3 = 2, 'SAVE', 'UPDATE'), if(number % 3 = 2, ts + 15000000000, 0), number % 3 = 2 "
        f"FROM numbers({n})"
    )
    n = counts["store_events"]
    wh.command(
        f"INSERT INTO {db}.store_events (time, type, product_id, category_id, category_code, brand, price, user_id, "
        "user_session, datacenter) "
        f"SELECT toDateTime64({at.format(n=n)}, 3, 'UTC'), ['view', 'view', 'view', 'cart', 'purchase'][number % 5 + 1], "
        "cityHash64(number) % 5000, cityHash64(number) % 5000 % 100, 'electronics.phone', 'acme', (number % 100) + 0.5, "
        "number % 100000, toString(number % 200000), ['eu', 'usa', 'asia'][number % 3 + 1] "
        f"FROM numbers({n})"
    )
    n = counts["probes"]
    wh.command(
        f"INSERT INTO {db}.probes (time, location, target, status_code, response_time_ms) "
        f"SELECT toDateTime64({at.format(n=n)}, 3, 'UTC'), ['eu', 'us', 'asia', 'ru'][number % 4 + 1], "
        "concat('https://t', toString(number % 20)), if(number % 50 = 0, 500, 200), (number % 1000) / 3 "
        f"FROM numbers({n})"
    )
    n = counts["quotes"]
    cols = ", ".join([*(f"bid_{i}" for i in range(1, 51)), *(f"ask_{i}" for i in range(1, 51))])
    vals = ", ".join([*(f"(number % 90) / 10 + {i}" for i in range(1, 51)), *(f"(number % 90) / 10 + {i + 0.5}" for i in range(1, 51))])
    wh.command(f"INSERT INTO {db}.quotes (timestamp, {cols}) SELECT toDateTime64({at.format(n=n)}, 6, 'UTC'), {vals} FROM numbers({n})")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vitrina-bench-models-"))
    try:
        wh = Warehouse(parse_dsn(f"chdb://{folder / 'clickhouse'}"))
        migrate(wh, BUILTIN, {})
        t = time.perf_counter()
        counts = _fill(wh, args.events)
        print(f"filled {sum(counts.values()):,} raw events over {DAYS} days in {time.perf_counter() - t:.1f}s: {counts}")
        runner = ModelRunner(Db.of(wh), builtin_models(), ModelSettings(lookback_s=86400))
        now = datetime(2026, 1, DAYS, 12, tzinfo=UTC)
        for label, full in (("full rebuild", True), ("incremental (1-day look-back: 2 of 7 days)", False)):
            t = time.perf_counter()
            results = runner.run(full=full, now=now)
            total = time.perf_counter() - t
            print(f"\n{label}: {total:.2f}s for {len(results)} models")
            print(f"  {'model':<28} {'rows':>10} {'seconds':>8}")
            for r in results:
                print(f"  {r.name:<28} {r.rows:>10,} {r.duration_s:>8.3f} {r.status if r.status != 'ok' else ''} {r.error[:300]}")
        figures = SqlFigures(runner.db, BUILTIN_FIGURES)
        t = time.perf_counter()
        values = figures.values(list(BUILTIN_FIGURES), datetime(2026, 1, DAYS, 12, tzinfo=UTC))
        took = time.perf_counter() - t
        print(f"\none alert round (all {len(values)} shipped figures over the raw tables): {took:.2f}s")
        wh.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
