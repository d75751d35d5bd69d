"""SIGKILL the embedded engine in the middle of inserts, replay each unconfirmed batch under its
token, and count what was lost: with and without the start-up repair of ClickHouse's
deduplication logs (warehouse/crash.py), interleaved in one run.

    .venv/bin/python -m bench.crash_dedup --kills 150

Each round starts a process (tests/warehouse/insert_child.py) that inserts batches of 300
metrics under `batch-N` tokens; after 1-6 confirmed batches it is killed 0-20 ms into the next
insert, and the next process starts again from that batch, as a loader replays what it did not
confirm. At the end every batch must be stored exactly once: raw rows and rollup counts.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = [sys.executable, "-m", "tests.warehouse.insert_child"]
PER_BATCH = 300


def one_kill(folder: Path, owner: str, start: int, rng: random.Random) -> int:
    """One process from batch `start`, killed inside an insert; the batch to replay next."""
    proc = subprocess.Popen([*CHILD, str(folder), owner, str(start), "1000000"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    confirm, begun = rng.randint(1, 6), start
    for line in proc.stdout:
        what, batch = line.split()
        if what == "done":
            confirm -= 1
        elif confirm <= 0:
            begun = int(batch)
            time.sleep(rng.uniform(0, 0.02))
            break
    proc.kill()
    proc.wait()
    return begun


def run(owner: str, kills: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="crash-dedup-") as tmp:
        folder, start = Path(tmp) / "ch", 0
        for _ in range(kills):
            start = one_kill(folder, owner, start, rng)
        done = subprocess.run(
            [*CHILD, str(folder), owner, str(start), str(start + 1)], capture_output=True, text=True, cwd=ROOT, check=True
        )
        held = json.loads(done.stdout.splitlines()[-1])
    expected = (start + 1) * PER_BATCH
    return {
        "repair": owner == "owner",
        "kills": kills,
        "batches": start + 1,
        "expected_rows": expected,
        "raw_lost": expected - held["raw"],
        "rollup_lost": expected - held["rollup"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for owner in ("plain", "owner"):  # the same kill schedule (seed) for both
        print(json.dumps(run(owner, args.kills, args.seed)), flush=True)


if __name__ == "__main__":
    main()
