"""Loader throughput from Kafka (Tansu) into chdb against the bare confluent-kafka consume
rate on the same topic in the same run; the Redis Streams loader's rate; end-to-end
freshness (API request sent to row visible in a query) at a steady 10,000 events/s.

    .venv/bin/python -m bench.transport [--events 1000000] [--redis-events 400000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import confluent_kafka
import httpx
import redis
from tests.conftest import free_port
from tests.log.services import Redis, Tansu

from bench.bare_consume import consume_rate
from bench.common import ROOT, report, server
from vitrina.config import TransportSettings
from vitrina.intake.validate import StreamValidator
from vitrina.load.kafka_loader import KafkaLoader
from vitrina.load.metrics import LoaderMetrics
from vitrina.load.redis_loader import RedisLoader
from vitrina.log.kafka import consumer_config, ensure_topics, producer_config
from vitrina.log.naming import ROWS_HEADER, ROWS_MARK
from vitrina.runtime import settle_gc
from vitrina.selfmetrics import PipelineMetrics
from vitrina.streams.builtin import BUILTIN
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate
from vitrina.warehouse.sink import WarehouseSink

STREAMS = {s.name: s for s in BUILTIN}


def row(i: int) -> bytes:
    """A metrics event as the intake validated it (what vitrina's own topics carry)."""
    return b'{"time":"1763800000.%03d","metric_name":"metric_%d","metric_value":%d.5,"tags":{}}' % (i % 1000, i % 10, i % 100)


def seed_upload(i: int) -> bytes:
    """An `item_events` message as the upload monitor's producer sends it (a JSON bool, a
    numeric string, `data` a string holding JSON), validated by the loader."""
    return json.dumps(
        {
            "ts_ns": 1_763_800_000_000_000_000 + i,
            "item_id": 1_000_000_000 + i,
            "company_id": 1000 + i % 9000,
            "category_id": 1 + i % 500,
            "origin": "upload/ui",
            "media": {},
            "country": "RU",
            "url_by_media": {},
            "event": "UPDATE",
            "attempt_id": f"{1600 + i % 1000}|282639",
            "request_id": f"{i:016x}",
            "up_ts": 0,
            "is_created": False,
            "origin_id": str(1 + i % 100),
            "data": json.dumps({"info": {"attempt": 1}}),
        }
    ).encode()


_SEED_VALIDATOR = StreamValidator(STREAMS["uploads"]).for_foreign()


def upload_row(i: int) -> bytes:
    """The same upload as `seed_upload(i)`, as the row the intake would have put on vitrina's topic."""
    return _SEED_VALIDATOR.check_json(seed_upload(i), 0).rows.rstrip(b"\n")


def fill_topic(bootstrap: str, topic: str, n: int, make: Callable[[int], bytes], header: bool) -> None:
    p = confluent_kafka.Producer(producer_config(bootstrap))
    headers: list[tuple[str, str | bytes | None]] | None = [(ROWS_HEADER, ROWS_MARK)] if header else None
    for i in range(n):
        while True:
            try:
                p.produce(topic, make(i), b"%d" % (i % 64), headers=headers)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10_000 == 0:
            p.poll(0)
    assert p.flush(60) == 0


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Run(NamedTuple):
    """One consume: events/s, and CPU µs per event of the consuming process and the broker."""

    rate: float
    cpu_us: float
    broker_cpu_us: float


def bare_consume(broker: Tansu, topic: str, n: int, extra: dict[str, object] | None = None, *, alone: bool = True) -> Run:
    """confluent-kafka's own rate with the loader's consumer settings: in a process of its own
    (`alone`, the baseline), or in this one, which has vitrina and chdb loaded like a loader."""
    config = consumer_config(broker.bootstrap, f"bare-{time.time()}", **{"session.timeout.ms": 6000, **(extra or {})})
    assert broker.proc is not None
    broker_cpu = process_cpu(broker.proc.pid)
    if alone:
        del config["bootstrap.servers"]
        cmd = [sys.executable, "-m", "bench.bare_consume", broker.bootstrap, topic, str(n), json.dumps(config)]
        rate, cpu = map(float, subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout.split())
    else:
        rate, cpu = consume_rate(config, topic, n)
    return Run(rate, cpu / n * 1e6, (process_cpu(broker.proc.pid) - broker_cpu) / n * 1e6)


def loaded(metrics: LoaderMetrics, stream: str) -> float:
    return float(metrics.loaded.labels(stream)._value.get())


def run_loader(loader: Any, metrics: LoaderMetrics, stream: str, n: int, started: Callable[[], bool], broker_pid: int = 0) -> Run:
    """Events/s from the moment the loader could start (partitions assigned) to all loaded."""
    stop = threading.Event()
    t = threading.Thread(target=loader.run, args=(stop,), daemon=True)
    t.start()
    while not started():
        time.sleep(0.001)
    t0, cpu0, broker0 = time.perf_counter(), time.process_time(), process_cpu(broker_pid) if broker_pid else 0.0
    while loaded(metrics, stream) < n:
        time.sleep(0.002)
    rate, cpu = n / (time.perf_counter() - t0), time.process_time() - cpu0
    broker_cpu = process_cpu(broker_pid) - broker0 if broker_pid else 0.0
    stop.set()
    t.join(60)
    return Run(rate, cpu / n * 1e6, broker_cpu / n * 1e6)


def warehouse(folder: Path) -> Warehouse:
    wh = Warehouse(parse_dsn(f"chdb://{folder}", "vitrina"))
    migrate(wh, STREAMS.values())
    return wh


def idle_merges(wh: Warehouse) -> None:
    """Wait until no merge runs, so that the next measurement pays only for its own."""
    deadline = time.monotonic() + 60
    while wh.query("SELECT count() FROM system.merges").result_rows[0][0] and time.monotonic() < deadline:
        time.sleep(0.05)


def kafka_rates(folder: Path, events: int) -> dict[str, Run]:
    out: dict[str, Run] = {}
    broker = Tansu(folder).start()
    try:
        assert broker.proc is not None
        t = TransportSettings(kind="kafka", kafka=broker.bootstrap, group="bench")
        ensure_topics(broker.bootstrap, ["vitrina.metrics", "item_events"], t.partitions)
        fill_topic(broker.bootstrap, "vitrina.metrics", events, row, header=True)
        out["bare"] = bare_consume(broker, "vitrina.metrics", events)
        out["bare_in_process"] = bare_consume(broker, "vitrina.metrics", events, alone=False)
        librdkafka_defaults: dict[str, object] = {
            "queued.min.messages": 100_000,
            "fetch.max.bytes": 52_428_800,
            "max.partition.fetch.bytes": 1_048_576,
        }
        out["bare_default_fetch"] = bare_consume(broker, "vitrina.metrics", events, librdkafka_defaults)
        wh = warehouse(folder / "ch")
        metrics = LoaderMetrics(PipelineMetrics(lambda: 0))
        loader = KafkaLoader(t, {"metrics": STREAMS["metrics"]}, wh, WarehouseSink(wh), metrics, "bench")
        assigned = lambda: bool(loader.consumer and loader.consumer.assignment())  # noqa: E731
        out["loader"] = run_loader(loader, metrics, "metrics", events, assigned, broker.proc.pid)
        assert wh.query("SELECT count() FROM vitrina.metrics").result_rows[0][0] == events
        # the seed format, validated by the loader (foreign topic), against the same events as
        # rows on vitrina's own uploads topic (validated by the intake, inserted as they are)
        seed_n = events // 2
        ensure_topics(broker.bootstrap, ["vitrina.uploads"], t.partitions)
        fill_topic(broker.bootstrap, "vitrina.uploads", seed_n, upload_row, header=True)
        uploads_only = {"uploads": STREAMS["uploads"]}
        loader_up = KafkaLoader(replace(t, group="bench-own-uploads"), uploads_only, wh, WarehouseSink(wh), metrics, "own-up")
        assigned_up = lambda: bool(loader_up.consumer and loader_up.consumer.assignment())  # noqa: E731
        # read once first, as the other two topics are before their loader runs
        out["bare_own_uploads"] = bare_consume(broker, "vitrina.uploads", seed_n)
        idle_merges(wh)  # the metrics run's merges would be charged to this one
        out["loader_own_uploads"] = run_loader(loader_up, metrics, "uploads", seed_n, assigned_up, broker.proc.pid)
        fill_topic(broker.bootstrap, "item_events", seed_n, seed_upload, header=False)
        out["bare_seed"] = bare_consume(broker, "item_events", seed_n)
        # Its own topics are others (empty): with vitrina.uploads among them this loader would
        # also replay the uploads loaded above (deduplicated, so cheaper) and count them.
        t2 = replace(t, group="bench-seed", foreign={"item_events": "uploads"}, topic_prefix="bench-seed.")
        loader2 = KafkaLoader(t2, {"uploads": STREAMS["uploads"]}, wh, WarehouseSink(wh), metrics, "bench-seed")
        assigned2 = lambda: bool(loader2.consumer and loader2.consumer.assignment())  # noqa: E731
        idle_merges(wh)
        out["loader_seed"] = run_loader(loader2, metrics, "uploads", 2 * seed_n, assigned2, broker.proc.pid)
        assert wh.query("SELECT count() FROM vitrina.uploads").result_rows[0][0] == 2 * seed_n  # each upload twice: two topics
        wh.close()
    finally:
        broker.kill()
    return out


def redis_rate(folder: Path, events: int) -> float:
    rs = Redis(folder).start()
    try:
        r = redis.Redis(port=rs.port)
        for start in range(0, events, 10_000):
            pipe = r.pipeline(transaction=False)
            for i in range(start, min(start + 10_000, events)):
                pipe.xadd("vitrina.metrics", {b"r": row(i)})
            pipe.execute()
        wh = warehouse(folder / "ch-redis")
        metrics = LoaderMetrics(PipelineMetrics(lambda: 0))
        t = TransportSettings(kind="redis", redis=rs.url)
        loader = RedisLoader(t, {"metrics": STREAMS["metrics"]}, WarehouseSink(wh), metrics, "bench-0")
        rate = run_loader(loader, metrics, "metrics", events, lambda: True).rate
        wh.close()
        return rate
    finally:
        rs.kill()


def send_paced(url: str, share: float, seconds: float) -> None:
    """100-event requests at `share` events/s for `seconds`, each event carrying its send time."""
    per_request = 100
    interval = per_request / share
    with httpx.Client(timeout=10) as c:
        next_t = time.perf_counter()
        end = next_t + seconds
        while next_t < end:
            now = time.time()
            resp = c.post(f"{url}/v1/streams/metrics", json=[{"metric_name": "fresh", "metric_value": now}] * per_request)
            assert resp.status_code == 200, resp.text
            next_t += interval
            time.sleep(max(0.0, next_t - time.perf_counter()))


def freshness(folder: Path, rate: int, seconds: float) -> dict[str, float]:
    """POST 100-event requests at `rate` events/s into `vitrina up --kafka`; poll a query for
    new rows; latency = seen in a query - request sent (the event carries its send time)."""
    broker = Tansu(folder).start()
    port = free_port()
    cfg = folder / "fresh.toml"
    cfg.write_text("[transport]\nbatch_linger_ms = 50\n")
    cmd = [
        *(sys.executable, "-m", "vitrina", "up", "--port", str(port), "--data-dir", str(folder / "fresh")),
        *("--config", str(cfg), "--kafka", broker.bootstrap),
    ]
    url = f"http://127.0.0.1:{port}"
    lat: list[float] = []
    try:
        with server(cmd, f"{url}/readyz"):
            with httpx.Client(timeout=10) as c:  # wait for the loader's group join
                c.post(f"{url}/v1/streams/metrics", json={"metric_name": "warm", "metric_value": 0})
                while c.post(f"{url}/v1/sql", content=b"SELECT count() FROM vitrina.metrics").json()["data"][0]["count()"] < 1:
                    time.sleep(0.05)
            done = threading.Event()

            senders = [threading.Thread(target=send_paced, args=(url, rate / 8, seconds)) for _ in range(8)]  # 8 producers
            for t in senders:
                t.start()

            def finish() -> None:
                for t in senders:
                    t.join()
                done.set()

            threading.Thread(target=finish, daemon=True).start()
            seen: dict[float, int] = {}  # request send time -> its rows seen so far
            with httpx.Client(timeout=10) as c:
                quiet_since = None
                while True:
                    # Partitions load out of order: look at every request's rows each time.
                    q = "SELECT metric_value, count() AS n FROM vitrina.metrics WHERE metric_name = 'fresh' GROUP BY metric_value"
                    rows = c.post(f"{url}/v1/sql", content=q.encode()).json()["data"]
                    now = time.time()
                    for r in rows:
                        new = int(r["n"]) - seen.get(r["metric_value"], 0)
                        if new:
                            lat += [now - r["metric_value"]] * new
                            seen[r["metric_value"]] = int(r["n"])
                    if done.is_set():
                        quiet_since = quiet_since or now
                        if now - quiet_since > 3:
                            break
                    time.sleep(0.01)
            for t in senders:
                t.join()
    finally:
        broker.kill()
    lat.sort()
    return {
        "events": len(lat),
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[int(len(lat) * 0.99)] * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--redis-events", type=int, default=400_000)
    ap.add_argument("--fresh-rate", type=int, default=10_000)
    ap.add_argument("--fresh-seconds", type=float, default=15.0)
    args = ap.parse_args()
    sys.setswitchinterval(0.0001)  # as `vitrina load` runs
    settle_gc()  # as `vitrina up` and `vitrina load` run, once started
    folder = Path(tempfile.mkdtemp(prefix="vitrina-bench-transport-"))
    try:
        k = kafka_rates(folder, args.events)
        rd = redis_rate(folder, args.redis_events)
        fr = freshness(folder, args.fresh_rate, args.fresh_seconds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    data = {
        **{name: r._asdict() for name, r in k.items()},
        "redis_loader_per_s": rd,
        "freshness": fr,
        "events": args.events,
        "redis_events": args.redis_events,
    }
    bare, inproc, loader, seed, bare_seed = k["bare"], k["bare_in_process"], k["loader"], k["loader_seed"], k["bare_seed"]
    own_up, bare_own_up = k["loader_own_uploads"], k["bare_own_uploads"]
    report(
        "transport",
        [
            ("bare confluent-kafka consume (vitrina rows), own process", f"{bare.rate:,.0f} msg/s"),
            ("  same, in the loader's process (GC settled)", f"{inproc.rate:,.0f} msg/s"),
            ("  same, librdkafka's default fetch sizes", f"{k['bare_default_fetch'].rate:,.0f} msg/s"),
            (
                "Kafka loader into chdb (vitrina rows)",
                f"{loader.rate:,.0f} events/s ({loader.rate / bare.rate:.0%} of bare, {loader.rate / inproc.rate:.0%} of in-process bare)",
            ),
            ("  CPU per event, consumer + broker: bare", f"{bare.cpu_us:.2f} + {bare.broker_cpu_us:.2f} µs"),
            ("  CPU per event, consumer + broker: loader", f"{loader.cpu_us:.2f} + {loader.broker_cpu_us:.2f} µs"),
            ("bare consume (seed item_events)", f"{bare_seed.rate:,.0f} msg/s"),
            ("Kafka loader, seed format validated", f"{seed.rate:,.0f} events/s ({seed.rate / bare_seed.rate:.0%} of bare)"),
            ("bare consume (the same uploads, own topic)", f"{bare_own_up.rate:,.0f} msg/s"),
            ("Kafka loader, the same uploads, own topic", f"{own_up.rate:,.0f} events/s ({own_up.rate / bare_own_up.rate:.0%} of bare)"),
            ("  foreign / own topic, same stream (the validation's cost)", f"{seed.rate / own_up.rate:.0%} (the target: at least 50 %)"),
            ("  foreign uploads / own metrics topic", f"{seed.rate / loader.rate:.0%} (uploads rows are ~4x the bytes)"),
            ("Redis loader into chdb", f"{rd:,.0f} events/s"),
            (
                f"freshness at {args.fresh_rate:,} events/s",
                f"p50 {fr['p50_ms']:.0f} ms, p99 {fr['p99_ms']:.0f} ms ({fr['events']:,} events)",
            ),
        ],
        data,
    )


if __name__ == "__main__":
    main()
