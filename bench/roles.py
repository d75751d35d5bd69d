"""The roles in processes: `vitrina api --workers 1, 2, 3` against one Tansu broker in the same
run (events/s, and CPU per event of the api workers and of the broker), then one `vitrina load`
draining everything they acknowledged into chdb (events/s and CPU per event, ClickHouse's
inserts included: chdb runs in the loader's process).

    .venv/bin/python -m bench.roles [--seconds 8] [--batch 100]

The api workers run with an unreachable warehouse DSN: intake needs only the broker, and no
reader competes for the cores. wrk sends fixed bodies (one event, and batches of --batch
events). The figures feed docs/DEPLOYMENT.md "Sizing" and docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition
from tests.conftest import free_port
from tests.log.services import Tansu

from bench.common import ROOT, cpu_seconds, report, wrk

TOPIC = "vitrina.metrics"
ONE = json.dumps({"metric_name": "metric_1", "metric_value": 42.5}).encode()


def batch(n: int) -> bytes:
    return json.dumps([{"metric_name": f"metric_{i % 10}", "metric_value": i + 0.5} for i in range(n)]).encode()


def env(broker: Tansu) -> dict[str, str]:
    return {
        **os.environ,
        "VITRINA_TRANSPORT__KIND": "kafka",
        "VITRINA_TRANSPORT__KAFKA": broker.bootstrap,
        "VITRINA_MODELS__ENABLED": "false",
        "VITRINA_ALERTS__ENABLED": "false",
    }


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sys.exit(f"{url} not ready after {timeout} s")


@contextmanager
def role(args: list[str], broker: Tansu, port: int, extra_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    cmd = [sys.executable, "-m", "vitrina", *args, "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**env(broker), **extra_env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"http://127.0.0.1:{port}/readyz", proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait(90)


def api_run(broker: Tansu, workers: int, seconds: float, body: bytes, events_per_request: int, connections: int) -> dict[str, float]:
    port = free_port()
    dsn = f"http://default:x@127.0.0.1:{free_port()}"  # nothing listens: intake only
    args = ["api", "--workers", str(workers), "--data-dir", tempfile.mkdtemp(prefix="vitrina-bench-api-")]
    with role(args, broker, port, {"VITRINA_DSN": dsn}) as proc:
        url = f"http://127.0.0.1:{port}/v1/streams/metrics"
        wrk(url, body, connections, 2)  # warm-up
        pids = [proc.pid, *children(proc.pid)]
        cpu = sum(cpu_seconds(p) for p in pids)
        broker_cpu = cpu_seconds(broker.proc.pid) if broker.proc else 0.0
        run = wrk(url, body, connections, seconds)
        events = run["rps"] * seconds * events_per_request
        api_cpu = sum(cpu_seconds(p) for p in pids) - cpu
        b_cpu = (cpu_seconds(broker.proc.pid) if broker.proc else 0.0) - broker_cpu
    return {
        "events_per_s": run["rps"] * events_per_request,
        "requests_per_s": run["rps"],
        "p99_ms": run["p99_ms"],
        "non2xx": run["non2xx"],
        "api_cpu_us_per_event": api_cpu / events * 1e6,
        "broker_cpu_us_per_event": b_cpu / events * 1e6,
    }


def backlog(bootstrap: str) -> tuple[int, int]:
    """(messages in the topic, messages the loader group has committed)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "vitrina-loader"})
    try:
        parts = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
        tps = [TopicPartition(TOPIC, p) for p in parts]
        high = sum(consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in tps)
        committed = sum(max(tp.offset, 0) for tp in consumer.committed(tps, timeout=10))
        return high, committed
    finally:
        consumer.close()


def load_run(broker: Tansu, folder: Path) -> dict[str, float]:
    """One loader draining what the topic holds beyond its group's offsets: its time and CPU,
    per event counted in its chdb (before and after)."""
    before = count_stored(folder) if (folder / "clickhouse").exists() else 0
    port = free_port()
    with role(["load", "--data-dir", str(folder)], broker, port, {}) as proc:
        cpu, started = cpu_seconds(proc.pid), time.monotonic()
        while True:
            high, committed = backlog(broker.bootstrap)
            if committed >= high:
                break
            time.sleep(0.2)
        took, used = time.monotonic() - started, cpu_seconds(proc.pid) - cpu
    events = count_stored(folder) - before
    return {"events": events, "seconds": took, "events_per_s": events / took, "loader_cpu_us_per_event": used / events * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--connections", type=int, default=128)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vitrina-bench-roles-"))
    broker = Tansu(folder).start()
    try:
        results: dict[str, Any] = {"cores": os.cpu_count(), "load_average_before": os.getloadavg()}
        # Each intake request is one message: the loader's cost per event depends on the
        # events per message, so it drains after the single-event runs and after the batches.
        for name, body, n in (("single", ONE, 1), (f"batch{args.batch}", batch(args.batch), args.batch)):
            for workers in (1, 2, 3):
                results[f"api{workers}_{name}"] = api_run(broker, workers, args.seconds, body, n, args.connections)
            results[f"load_{name}"] = load_run(broker, folder / "load")
        results["load_average_after"] = os.getloadavg()
    finally:
        broker.kill()
        shutil.rmtree(folder, ignore_errors=True)
    print_report(results, args.batch)


def count_stored(data_dir: Path) -> int:
    query = "SELECT count() AS n FROM vitrina.metrics"
    out = subprocess.run(
        [sys.executable, "-m", "vitrina", "sql", "--data-dir", str(data_dir), "--format", "json", query],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(json.loads(out)["data"][0]["n"])


def print_report(results: dict[str, Any], n: int) -> None:
    rows = []
    for workers in (1, 2, 3):
        for name in ("single", f"batch{n}"):
            r = results[f"api{workers}_{name}"]
            rows.append(
                (
                    f"api --workers {workers}, {'single events' if name == 'single' else f'{n}-event batches'}",
                    f"{r['events_per_s']:,.0f} events/s (p99 {r['p99_ms']:.1f} ms, non-2xx {r['non2xx']:.0f}); "
                    f"CPU per event: api {r['api_cpu_us_per_event']:.1f} us, broker {r['broker_cpu_us_per_event']:.1f} us",
                )
            )
    for name, what in (("single", "1 event"), (f"batch{n}", f"{n} events")):
        load = results[f"load_{name}"]
        rows.append(
            (
                f"load, messages of {what} (one process, chdb inserts included)",
                f"{load['events_per_s']:,.0f} events/s ({load['events']:,} events in {load['seconds']:.1f} s); "
                f"CPU {load['loader_cpu_us_per_event']:.2f} us per event",
            )
        )
    before, after = results["load_average_before"][0], results["load_average_after"][0]
    rows.append(("machine", f"{results['cores']} cores shared with other jobs; load average {before:.1f} before, {after:.1f} after"))
    report("roles", rows, results)


if __name__ == "__main__":
    main()
