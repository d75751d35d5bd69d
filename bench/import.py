"""`vitrina import` of a large file: a site-events history of `--events` events (default 1M),
NDJSON in xz like the seed's `data/events.xz`, imported twice into a fresh data folder, as a
user runs it (`vitrina import` in a subprocess). Prints the events/s of each import and checks
that the second stored nothing twice.

    .venv/bin/python -m bench.import [--events 1000000] [--rate 0]
"""

from __future__ import annotations

import argparse
import json
import lzma
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT


def write_history(path: Path, events: int) -> None:
    with lzma.open(path, "wb", preset=1) as f:
        for i in range(events):
            e = {
                "dt": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}",
                "name": "click" if i % 3 == 0 else "view",
                "user_id": i % 50_000,
                "url": f"https://shop.example/product/{1 + i % 4}",
                "obj": "button" if i % 3 == 0 else "page",
                "obj_id": "add_to_cart" if i % 3 == 0 else "",
                "product_id": 1 + i % 4,
                "amount": float(i % 200),
            }
            f.write(json.dumps(e).encode() + b"\n")


def vitrina(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vitrina", *args], capture_output=True, text=True, cwd=ROOT, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=0, help="--rate of the import (0: no limit)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vitrina-bench-import-"))
    try:
        path = folder / "events.xz"
        started = time.monotonic()
        write_history(path, args.events)
        print(f"wrote {args.events:,} events ({path.stat().st_size / 1e6:.1f} MB xz) in {time.monotonic() - started:.0f} s")
        data = folder / "data"
        data.mkdir()
        for attempt in ("first", "again"):
            result = vitrina("import", str(path), "--stream", "site_events", "--data-dir", str(data), "--rate", str(args.rate))
            if result.returncode != 0:
                sys.exit(result.stderr)
            print(f"{attempt}: {result.stdout.strip()}")
        counted = vitrina("sql", "SELECT count() AS n FROM vitrina.site_events", "--data-dir", str(data), "--format", "json")
        stored = json.loads(counted.stdout)["data"][0]["n"]
        print(f"stored {stored:,} rows for {args.events:,} events: {'exactly once' if stored == args.events else 'WRONG'}")
        if stored != args.events or not re.search(r"events/s", result.stdout):
            sys.exit(1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
