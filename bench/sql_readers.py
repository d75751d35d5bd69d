"""How much heavy analysts' queries slow ingestion, for a few `[sql]` settings.

    .venv/bin/python -m bench.sql_readers [--events 300000] [--readers 4]

For each setting: 1000-event batches sent one after another with `[writer] ack = "insert"`
(each answer waits for its insert), first with no reader, then while `--readers` clients
loop a CPU-heavy query through /v1/sql. Prints events stored per second both ways.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import httpx

from bench.common import vitrina

BATCH = json.dumps([{"metric_name": f"m{i % 10}", "metric_value": i} for i in range(1000)]).encode()
HEAVY = "SELECT uniqExact(cityHash64(number)) FROM numbers(30000000)"
SETTINGS = {
    "max_threads = 0 (one per core)": "max_threads = 0",
    "max_threads = 2 (the default)": "max_threads = 2",
    "max_threads = 1": "max_threads = 1",
}


def ingest(url: str, events: int) -> float:
    started = time.monotonic()
    with httpx.Client(timeout=120) as client:
        for _ in range(events // 1000):
            resp = client.post(f"{url}/v1/streams/metrics", content=BATCH, headers={"content-type": "application/json"})
            resp.raise_for_status()
    return events / (time.monotonic() - started)


def readers(url: str, n: int, stop: threading.Event, done: list[int]) -> list[threading.Thread]:
    def loop() -> None:
        with httpx.Client(timeout=300) as client:
            while not stop.is_set():
                if client.get(f"{url}/v1/sql", params={"query": HEAVY}).status_code == 200:
                    done.append(1)

    threads = [threading.Thread(target=loop) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--readers", type=int, default=4)
    args = parser.parse_args()
    print(f"{'[sql]':<34} {'alone ev/s':>11} {'with readers':>13} {'slower':>7} {'queries':>8}")
    for label, line in SETTINGS.items():
        config = f'[writer]\nack = "insert"\n[sql]\nconcurrency = {args.readers}\n{line}\n'
        with vitrina(config) as (url, _, _):
            ingest(url, 20_000)  # warm-up
            alone = ingest(url, args.events)
            stop, done = threading.Event(), []  # type: ignore[var-annotated]
            threads = readers(url, args.readers, stop, done)
            time.sleep(1)  # the readers are busy before the load starts
            loaded = ingest(url, args.events)
            stop.set()
            for t in threads:
                t.join()
        print(f"{label:<34} {alone:>11,.0f} {loaded:>13,.0f} {1 - loaded / alone:>7.0%} {len(done):>8}")


if __name__ == "__main__":
    main()
