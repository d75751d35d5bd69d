"""HTTP intake throughput and latency, against a bare ASGI app measured in the same run.

    .venv/bin/python -m bench.intake            (or scripts/bench)

1. single-event requests, max throughput (wrk): vitrina vs the bare app that only parses and
   validates the same JSON;
2. p50/p99 latency at a constant 5,000 requests/s (hey), the bare app's too;
3. 1000-event batches: events stored per second, counted in ClickHouse afterwards;
each for both acknowledgement modes, `[writer] ack = "insert"` and `ack = "wal"`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx

from bench.common import bare_app, cpu_seconds, hey_constant, report, vitrina, wrk

ONE = json.dumps({"metric_name": "metric_1", "metric_value": 42.5}).encode()
BATCH = json.dumps([{"metric_name": f"metric_{i % 10}", "metric_value": i + 0.5} for i in range(1000)]).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=512)
    args = parser.parse_args()
    s, c = args.seconds, args.connections

    with bare_app() as (url, pid):
        wrk(url + "/", ONE, c, 2)  # warm-up
        cpu = cpu_seconds(pid)
        bare = wrk(url + "/", ONE, c, s)
        bare["cpu_us_per_request"] = (cpu_seconds(pid) - cpu) / (bare["rps"] * s) * 1e6
        bare_constant = hey_constant(url + "/", ONE, 5000, s)
        bare_batch = wrk(url + "/", BATCH, 64, s)
    results = {mode: measure(mode, s, c) for mode in ("insert", "wal")}
    rows = [
        ("bare app, single events (req/s)", f"{bare['rps']:,.0f}  (server CPU {bare['cpu_us_per_request']:.0f} us per request)"),
        ("bare app at 5,000 req/s constant", f"p50 {bare_constant['p50_ms']:.1f} ms, p99 {bare_constant['p99_ms']:.1f} ms"),
        ("bare app, 1000-event batches (events/s)", f"{bare_batch['rps'] * 1000:,.0f}"),
    ]
    for mode, r in results.items():
        single, constant = r["single"], r["constant_5000"]
        rows += [
            (
                f"ack={mode}: single events (req/s)",
                f"{single['rps']:,.0f}  ({single['rps'] / bare['rps']:.0%} of bare; p99 {single['p99_ms']:.1f} ms, "
                f"non-2xx {single['non2xx']:.0f}; server CPU {single['cpu_us_per_request']:.0f} us per request)",
            ),
            (
                f"ack={mode}: at 5,000 req/s constant",
                f"achieved {constant['rps']:,.0f} req/s, p50 {constant['p50_ms']:.1f} ms, p99 {constant['p99_ms']:.1f} ms",
            ),
            (
                f"ack={mode}: 1000-event batches (events/s stored)",
                f"{r['batch_events_per_s_stored']:,.0f}  (counted in ClickHouse: {r['batch_rows_stored']:,} rows in {s:g} s)",
            ),
        ]
    report(
        "intake",
        rows,
        {
            "bare": bare,
            "bare_constant_5000": bare_constant,
            "bare_batch": bare_batch,
            **{f"ack_{mode}": r for mode, r in results.items()},
            "seconds": s,
            "connections": c,
        },
    )


def measure(ack: str, s: float, c: int) -> dict[str, Any]:
    """One vitrina run with `[writer] ack = ack`: single events, constant rate, batches.
    Intake alone: the model scheduler and alert evaluator would share the same cores."""
    config = f'[writer]\nack = "{ack}"\n[models]\nenabled = false\n[alerts]\nenabled = false\n'
    with vitrina(config) as (url, _folder, pid):
        intake = url + "/v1/streams/metrics"
        wrk(intake, ONE, c, 2)
        cpu = cpu_seconds(pid)
        single = wrk(intake, ONE, c, s)
        single["cpu_us_per_request"] = (cpu_seconds(pid) - cpu) / (single["rps"] * s) * 1e6
        constant = hey_constant(intake, ONE, 5000, s)
        before = stored(url)
        batch = wrk(intake, BATCH, 64, s)
        # acknowledged batches, counted once they are in ClickHouse (ack = wal inserts behind)
        sent = stored(url, settle=True) - before
    return {"single": single, "constant_5000": constant, "batch": batch, "batch_rows_stored": sent, "batch_events_per_s_stored": sent / s}


def stored(url: str, settle: bool = False) -> int:
    if settle:  # everything acknowledged into ClickHouse first (ack = wal inserts behind)
        resp = httpx.post(url + "/v1/flush", params={"timeout": 120}, timeout=130)
        assert resp.status_code == 200, resp.text
    return int(httpx.post(url + "/v1/sql", content=b"SELECT count() FROM vitrina.metrics").json()["data"][0]["count()"])


if __name__ == "__main__":
    main()
