"""HTTP intake throughput and latency, against a bare ASGI app measured in the same run.

    .venv/bin/python -m bench.intake            (or scripts/bench)

1. single-event requests, max throughput (wrk): vitrina vs the bare app that only parses and
   validates the same JSON;
2. p99 latency at a constant 5,000 requests/s (hey);
3. 1000-event batches: events stored per second, counted in ClickHouse afterwards.
"""

from __future__ import annotations

import argparse
import json

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
        bare_batch = wrk(url + "/", BATCH, 64, s)
    # Intake alone: the model scheduler and alert evaluator would share the same core.
    with vitrina("[models]\nenabled = false\n[alerts]\nenabled = false\n") as (url, _folder, pid):
        intake = url + "/v1/streams/metrics"
        wrk(intake, ONE, c, 2)
        cpu = cpu_seconds(pid)
        single = wrk(intake, ONE, c, s)
        single["cpu_us_per_request"] = (cpu_seconds(pid) - cpu) / (single["rps"] * s) * 1e6
        constant = hey_constant(intake, ONE, 5000, s)
        before = httpx.post(url + "/v1/sql", content=b"SELECT count() FROM vitrina.metrics").json()["data"][0]["count()"]
        batch = wrk(intake, BATCH, 64, s)
        after = httpx.post(url + "/v1/sql", content=b"SELECT count() FROM vitrina.metrics").json()["data"][0]["count()"]
    stored_rate = (after - before) / s
    rows = [
        ("bare app, single events (req/s)", f"{bare['rps']:,.0f}  (server CPU {bare['cpu_us_per_request']:.0f} us per request)"),
        (
            "vitrina, single events (req/s)",
            f"{single['rps']:,.0f}  ({single['rps'] / bare['rps']:.0%} of bare; "
            f"p99 {single['p99_ms']:.1f} ms, non-2xx {single['non2xx']:.0f}; server CPU {single['cpu_us_per_request']:.0f} us per request)",
        ),
        (
            "vitrina at 5,000 req/s constant",
            f"achieved {constant['rps']:,.0f} req/s, p50 {constant['p50_ms']:.1f} ms, p99 {constant['p99_ms']:.1f} ms",
        ),
        ("bare app, 1000-event batches (events/s)", f"{bare_batch['rps'] * 1000:,.0f}"),
        (
            "vitrina, 1000-event batches (events/s stored)",
            f"{stored_rate:,.0f}  (counted in ClickHouse: {after - before:,} rows in {s:g} s)",
        ),
    ]
    report(
        "intake",
        rows,
        {
            "bare": bare,
            "single": single,
            "constant_5000": constant,
            "bare_batch": bare_batch,
            "batch": batch,
            "batch_events_per_s_stored": stored_rate,
            "seconds": s,
            "connections": c,
        },
    )


if __name__ == "__main__":
    main()
