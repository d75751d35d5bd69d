"""Group commit against a real server: acknowledged means durable (SIGKILL), shutdown drains,
and a writer that falls behind answers 503 with Retry-After instead of queueing forever."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import wait_until

PER_REQUEST = 5


def _send_until_killed(v: Any, prefix: str, threads: int = 16) -> set[str]:
    """Post batches from many threads; return the names of those acknowledged with 200."""
    acked: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def worker(w: int) -> None:
        with httpx.Client(timeout=10) as client:
            n = 0
            while not stop.is_set():
                name = f"{prefix}-{w}-{n}"
                n += 1
                batch = [{"metric_name": name, "metric_value": i} for i in range(PER_REQUEST)]
                try:
                    resp = client.post(f"{v.url}/v1/streams/metrics", json=batch)
                except httpx.HTTPError:
                    return  # the server died under us: this request was not acknowledged
                if resp.status_code == 200:
                    with lock:
                        acked.add(name)

    with ThreadPoolExecutor(threads) as pool:
        for w in range(threads):
            pool.submit(worker, w)
        wait_until(lambda: len(acked) >= 400, 60, "400 acknowledged requests")
        v.kill()  # SIGKILL while requests are in flight
        stop.set()
    return acked


def test_sigkill_after_acks_loses_nothing_and_duplicates_nothing(make_vitrina: Any) -> None:
    v = make_vitrina()
    acked: set[str] = set()
    for round_ in range(3):  # kill it several times, restarting on the same folder
        acked |= _send_until_killed(v, f"kill{round_}")
        v.start()
    counts = {r["metric_name"]: r["n"] for r in v.sql("SELECT metric_name, count() AS n FROM vitrina.metrics GROUP BY metric_name")}
    missing = [name for name in acked if counts.get(name, 0) != PER_REQUEST]
    assert not missing, f"{len(missing)} acknowledged requests not stored exactly once, e.g. {missing[:5]}"
    assert all(n in (0, PER_REQUEST) for n in counts.values()), "a request was stored twice or in part"
    # every acknowledged event is also in the rollups, once
    rolled = {
        r["metric_name"]: r["n"] for r in v.sql("SELECT metric_name, countMerge(count) AS n FROM vitrina.metrics_1s GROUP BY metric_name")
    }
    assert all(rolled.get(name) == PER_REQUEST for name in acked)


def test_shutdown_drains_accepted_requests(make_vitrina: Any) -> None:
    # a long linger keeps the first request waiting in the writer when SIGTERM arrives
    v = make_vitrina("[writer]\nlinger_ms = 1500\nflush_rows = 1000000\n")
    result: dict[str, Any] = {}

    def send() -> None:
        result["resp"] = httpx.post(f"{v.url}/v1/streams/metrics", json=[{"metric_name": "drain", "metric_value": 1}] * 3, timeout=30)

    t = threading.Thread(target=send)
    t.start()
    wait_until(lambda: "vitrina_writer_pending_rows 3.0" in httpx.get(f"{v.url}/metrics").text, 10, "rows pending in the writer")
    # uvicorn re-raises the signal after its graceful shutdown, so the exit status is SIGTERM's
    assert v.stop() in (0, -signal.SIGTERM)
    t.join(30)
    assert result["resp"].status_code == 200
    v.start()
    assert v.scalar("SELECT count() FROM vitrina.metrics WHERE metric_name = 'drain'") == 3


def test_overload_is_503_with_retry_after(make_vitrina: Any) -> None:
    v = make_vitrina("[writer]\nlinger_ms = 2000\nflush_rows = 1000000\nmax_pending_rows = 5\n[limits]\nretry_after_s = 2\n")
    first: dict[str, Any] = {}
    t = threading.Thread(
        target=lambda: first.update(
            r=httpx.post(f"{v.url}/v1/streams/metrics", json=[{"metric_name": "a", "metric_value": 1}] * 5, timeout=30)
        )
    )
    t.start()
    wait_until(lambda: "vitrina_writer_pending_rows 5.0" in httpx.get(f"{v.url}/metrics").text, 10, "the writer to be full")
    started = time.monotonic()
    resp = httpx.post(f"{v.url}/v1/streams/metrics", json={"metric_name": "b", "metric_value": 1})
    assert resp.status_code == 503
    assert resp.headers["retry-after"] == "2"
    assert resp.json()["error"] == "overloaded"
    assert time.monotonic() - started < 1.0  # refused at once, not queued
    t.join(30)
    assert first["r"].status_code == 200
    assert v.scalar("SELECT count() FROM vitrina.metrics") == 5
