"""One benchmark on two revisions of vitrina, interleaved in the same run: did a change cost speed?

    .venv/bin/python -m bench.compare REV intake --seconds 10
    .venv/bin/python -m bench.compare REV transport --events 500000
    .venv/bin/python -m bench.compare REV hotpath --requests 50000

REV (a commit, for example the one before a refactor) is checked out into a temporary git
worktree; each round runs the benchmark there and here, in A B B A order, so that a machine
that slows down or speeds up during the run weighs on both sides alike. Both use this
checkout's virtualenv; the old revision's `src/` and `bench/` come first on PYTHONPATH, so
every process the benchmark starts (vitrina servers, loaders) runs the old code. With
--bench-here both sides run this checkout's benchmark script (a change to the script itself
then weighs on both sides alike).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The figure that decides, per benchmark: a name and how to read it from the results JSON.
FIGURES: dict[str, dict[str, Callable[[dict[str, Any]], float]]] = {
    "intake": {
        "ack=wal single events (req/s)": lambda r: float(r["ack_wal"]["single"]["rps"]),
        "ack=insert single events (req/s)": lambda r: float(r["ack_insert"]["single"]["rps"]),
        "bare app single events (req/s)": lambda r: float(r["bare"]["rps"]),
        # The bare app is the same code on both sides: a run's vitrina figure over its bare
        # figure takes out how fast the machine happened to be during that run.
        "ack=wal single / bare, same run (%)": lambda r: 100 * float(r["ack_wal"]["single"]["rps"]) / float(r["bare"]["rps"]),
        "ack=wal server CPU per request (us)": lambda r: float(r["ack_wal"]["single"]["cpu_us_per_request"]),
    },
    "hotpath": {
        "Python calls per request": lambda r: float(r["vitrina"]["calls"]),
        "event-loop CPU per request (us)": lambda r: float(r["vitrina"]["loop_us"]),
        "process CPU per request (us)": lambda r: float(r["vitrina"]["process_us"]),
        "event-loop CPU / bare app's, same run (x)": lambda r: float(r["vitrina"]["loop_us"]) / float(r["bare"]["loop_us"]),
    },
    "transport": {
        "Kafka loader (events/s)": lambda r: float(r["loader"]["rate"]),
        "bare consume (msg/s)": lambda r: float(r["bare"]["rate"]),
        "Kafka loader / bare consume, same run (%)": lambda r: 100 * float(r["loader"]["rate"]) / float(r["bare"]["rate"]),
        "foreign item_events, validated (events/s)": lambda r: float(r["loader_seed"]["rate"]),
        "the same uploads, own topic (events/s)": lambda r: float(r["loader_own_uploads"]["rate"]),
        "foreign / own metrics topic, same run (%)": lambda r: 100 * float(r["loader_seed"]["rate"]) / float(r["loader"]["rate"]),
        "foreign / own uploads topic (%)": lambda r: 100 * float(r["loader_seed"]["rate"]) / float(r["loader_own_uploads"]["rate"]),
    },
}


def run(tree: Path, bench: str, args: list[str], here: bool = False) -> dict[str, Any]:
    """The benchmark on `tree`'s code; a benchmark newer than the old revision (or every
    benchmark, `here`) is this checkout's script run on the old revision's `src/`."""
    scripts = tree if (tree / "bench" / f"{bench}.py").exists() and not here else ROOT
    env = dict(os.environ, PYTHONPATH=f"{tree / 'src'}{os.pathsep}{scripts}")
    subprocess.run([sys.executable, "-m", f"bench.{bench}", *args], cwd=scripts, env=env, check=True)
    result: dict[str, Any] = json.loads((scripts / "bench" / "results" / f"{bench}.json").read_text())
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev")
    ap.add_argument("bench", choices=sorted(FIGURES))
    ap.add_argument("--rounds", type=int, default=1, help="A B B A rounds")
    ap.add_argument("--bench-here", action="store_true", help="both sides run this checkout's benchmark script")
    opts, rest = ap.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="vitrina-compare-") as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(old), opts.rev], check=True)
        try:
            seen: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
            for _ in range(opts.rounds):
                for side in ("old", "new", "new", "old"):
                    seen[side].append(run(old if side == "old" else ROOT, opts.bench, rest, opts.bench_here))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
    print(f"\n== {opts.bench}: {opts.rev} (old) against the working tree (new), {2 * opts.rounds} runs each ==")
    for name, read in FIGURES[opts.bench].items():
        a = statistics.median(read(r) for r in seen["old"])
        b = statistics.median(read(r) for r in seen["new"])
        print(f"{name:<42} old {a:>12,.1f}   new {b:>12,.1f}   new/old {b / a:.1%}")


if __name__ == "__main__":
    main()
