"""Fault injection for tests that kill vitrina at a chosen moment, from the test side only.

    python -m tests.faults --exit-after-inserts N up --port ... --data-dir ...

runs `vitrina up ...` (any vitrina command) with its sink wrapped: the process ends (exit
status 137, as after SIGKILL) right after the sink's Nth insert returned, before the loader
records anything about it (the write-ahead log's `done` mark, Kafka offsets, Redis XACKs):
the window exactly-once must cover. vitrina itself has no hook for this; the launcher wraps
the sink class every loader path stores through (warehouse/sink.py) before vitrina's main.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from vitrina.warehouse.sink import WarehouseSink

VITRINA = ["-m", "vitrina"]  # how tests/conftest.py runs vitrina normally


def launcher(*, exit_after_inserts: int) -> list[str]:
    """The arguments of `python` that run vitrina under this launcher."""
    return ["-m", "tests.faults", "--exit-after-inserts", str(exit_after_inserts)]


def exit_after_inserts(n: int) -> None:
    """Every WarehouseSink ends the process right after the Nth insert of all of them."""
    insert = WarehouseSink.insert
    lock = threading.Lock()
    done = 0

    def counted(self: WarehouseSink, table: str, rows: bytes, token: str) -> None:
        nonlocal done
        insert(self, table, rows, token)
        with lock:
            done += 1
            if done >= n:
                os._exit(137)

    WarehouseSink.insert = counted  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.faults")
    parser.add_argument("--exit-after-inserts", type=int, required=True)
    parser.add_argument("vitrina_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    exit_after_inserts(args.exit_after_inserts)
    from vitrina.cli.main import main as vitrina

    sys.argv = ["vitrina", *args.vitrina_args]
    vitrina()


if __name__ == "__main__":
    main()
