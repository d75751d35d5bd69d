"""Group commit against a real server: acknowledged means durable (SIGKILL), shutdown drains,
and a writer that falls behind answers 503 with Retry-After instead of queueing forever; in
both acknowledgement modes (after the insert, and after the write-ahead log)."""

from __future__ import annotations

import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import wait_until
from tests.faults import VITRINA, launcher
from vitrina.log.wal_format import SEGMENT_HEADER

PER_REQUEST = 5
INSERT = '[writer]\nack = "insert"\n'
WAL = '[writer]\nack = "wal"\n'
MODES = pytest.mark.parametrize("config", [INSERT, WAL, WAL + "wal_fsync = true\n"], ids=["ack-insert", "ack-wal", "ack-wal-fsync"])


def settled(v: Any) -> None:
    """Wait until nothing acknowledged is only in the write-ahead log (at once for ack = insert)."""
    wait_until(lambda: "vitrina_wal_unloaded_rows 0.0" in httpx.get(f"{v.url}/metrics").text, 60, "the log loaded")


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


@MODES
def test_sigkill_after_acks_loses_nothing_and_duplicates_nothing(config: str, make_vitrina: Any) -> None:
    v = make_vitrina(config)
    acked: set[str] = set()
    for round_ in range(3):  # kill it several times, restarting on the same folder
        acked |= _send_until_killed(v, f"kill{round_}")
        v.start()
    settled(v)
    assert_stored_once(v, acked)


def assert_stored_once(v: Any, acked: set[str]) -> None:
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
    v = make_vitrina(INSERT + "commit_linger_ms = 1500\ncommit_batch_rows = 1000000\n")
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


def test_shutdown_loads_the_write_ahead_log(make_vitrina: Any) -> None:
    # a long interval keeps acknowledged rows only in the log when SIGTERM arrives
    v = make_vitrina(WAL + "wal_interval_ms = 60000\n")
    resp = httpx.post(f"{v.url}/v1/streams/metrics", json=[{"metric_name": "drain", "metric_value": 1}] * 3, timeout=30)
    assert resp.status_code == 200
    assert v.scalar("SELECT count() FROM vitrina.metrics WHERE metric_name = 'drain'", settle=False) == 0  # in the log only
    assert "vitrina_wal_unloaded_rows 3.0" in httpx.get(f"{v.url}/metrics").text
    assert v.stop() in (0, -signal.SIGTERM)
    assert not (v.data_dir / "server.json").exists()  # the CLI no longer finds a server here
    # loaded at shutdown, not left to the next start: the log's progress mark is at its end
    state = json.loads((v.data_dir / "wal" / "state.json").read_text())
    assert state["inserting"] is None
    segments = (v.data_dir / "wal").glob("*.wal")  # named by their first record's position; a header before it
    assert state["done"] == max(int(p.name[:-4]) + p.stat().st_size - len(SEGMENT_HEADER) for p in segments) > 0
    v.start()
    assert v.scalar("SELECT count() FROM vitrina.metrics WHERE metric_name = 'drain'") == 3


def test_wal_crash_between_insert_and_progress_is_replayed_once(make_vitrina: Any) -> None:
    """The process dies right after the log's second insert, before recording its progress:
    the next start inserts the same range with the same tokens, and ClickHouse drops it."""
    v = make_vitrina(WAL + "wal_interval_ms = 50\n", start=False)
    v.launcher = launcher(exit_after_inserts=2)
    v.spawn()  # not v.start(): it may die before it is ready, that is the point
    acked: set[str] = set()
    wait_until(lambda: _ready(v), 60, "vitrina /readyz")
    for i in range(200):
        name = f"crash-{i}"
        try:
            resp = httpx.post(f"{v.url}/v1/streams/metrics", json=[{"metric_name": name, "metric_value": j} for j in range(PER_REQUEST)])
        except httpx.HTTPError:
            break  # it died
        if resp.status_code == 200:
            acked.add(name)
    wait_until(lambda: v.proc.poll() is not None, 60, "the process to die after its second insert")
    assert v.proc.returncode == 137
    v.proc = None
    v.launcher = VITRINA
    v.start()
    settled(v)
    assert acked
    assert_stored_once(v, acked)


def _ready(v: Any) -> bool:
    if v.proc.poll() is not None:
        return True  # died before ready: the caller's checks report it
    return httpx.get(f"{v.url}/readyz", timeout=1).status_code == 200


def test_overload_is_503_with_retry_after(make_vitrina: Any) -> None:
    v = make_vitrina(INSERT + "commit_linger_ms = 2000\ncommit_batch_rows = 1000000\nmax_pending_rows = 5\n[limits]\nretry_after_s = 2\n")
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


def test_overload_counts_rows_only_in_the_log(make_vitrina: Any) -> None:
    """With ack = wal the bound covers acknowledged rows not yet inserted: a warehouse that
    falls behind turns into 503s, not an ever-growing log."""
    v = make_vitrina(WAL + "wal_interval_ms = 3000\nmax_pending_rows = 5\n")
    assert httpx.post(f"{v.url}/v1/streams/metrics", json=[{"metric_name": "a", "metric_value": 1}] * 5).status_code == 200
    resp = httpx.post(f"{v.url}/v1/streams/metrics", json={"metric_name": "b", "metric_value": 1})
    assert resp.status_code == 503 and resp.json()["error"] == "overloaded"
    assert "5 rows waiting" in resp.json()["message"]
    assert v.scalar("SELECT count() FROM vitrina.metrics") == 5  # once the log is loaded, 3 s on


def test_flush_inserts_the_log_now(make_vitrina: Any) -> None:
    v = make_vitrina(WAL + "wal_interval_ms = 60000\n")
    assert httpx.post(f"{v.url}/v1/streams/metrics", json=[{"metric_name": "f", "metric_value": 1}] * 4).status_code == 200
    assert v.scalar("SELECT count() FROM vitrina.metrics", settle=False) == 0  # the interval is a minute
    started = time.monotonic()
    resp = httpx.post(f"{v.url}/v1/flush", timeout=30)
    assert resp.status_code == 200 and resp.json() == {"status": "flushed"}
    assert time.monotonic() - started < 10
    assert v.scalar("SELECT count() FROM vitrina.metrics", settle=False) == 4
    assert httpx.post(f"{v.url}/v1/flush", params={"timeout": 0}).status_code == 422  # named, not a 500
