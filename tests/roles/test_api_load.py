"""`vitrina api --workers N` against a real Tansu broker and `vitrina load` into chdb: the
workers share one port and one /metrics; SIGKILLs of a worker and of the loader under load
lose or double no acknowledged event."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from confluent_kafka import Consumer, TopicPartition

from tests.conftest import cli, free_port, wait_until
from tests.log.helpers import transport_config
from tests.log.services import Tansu
from tests.roles.helpers import Role, metric_value

PER_REQUEST = 50
TOPIC = "vitrina.metrics"


def _env(tansu: Tansu, **extra: str) -> dict[str, str]:
    """The settings as a deployment gives them: environment variables, as deploy/ does."""
    return {"VITRINA_TRANSPORT__KIND": "kafka", "VITRINA_TRANSPORT__KAFKA": tansu.bootstrap, **extra}


def _config(folder: Path) -> Path:
    path = folder / "vitrina.toml"
    path.write_text(transport_config(batch_rows=500))
    return path


def _unreachable_dsn() -> str:
    return f"http://default:pw@127.0.0.1:{free_port()}"  # nothing listens there


class Producer:
    """Threads POSTing batches of `metrics` (names `p-i`) until stopped; remembers which
    requests were acknowledged (200) and which failed (a killed worker's connections)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acked: set[int] = set()
        self.failed: set[int] = set()
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(6)
        self._futures = [self._pool.submit(self._run, t) for t in range(6)]

    def _run(self, thread: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = thread
            while not self._stop.is_set():
                batch = [{"metric_name": f"p-{i}", "metric_value": j} for j in range(PER_REQUEST)]
                try:
                    ok = client.post(f"{self.url}/v1/streams/metrics", json=batch).status_code == 200
                except httpx.TransportError:
                    ok = False
                with self._lock:
                    (self.acked if ok else self.failed).add(i)
                i += 6

    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def stop(self) -> None:
        self._stop.set()
        for f in self._futures:
            f.result()
        self._pool.shutdown()


def _loaded_everything(bootstrap: str) -> bool:
    """The loader group has committed every message of the topic (it commits after insert)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "vitrina-loader"})
    try:
        parts = consumer.list_topics(TOPIC, timeout=5).topics[TOPIC].partitions
        tps = [TopicPartition(TOPIC, p) for p in parts]
        committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=5)}
        return all(committed[tp.partition] >= consumer.get_watermark_offsets(tp, timeout=5)[1] for tp in tps)
    finally:
        consumer.close()


def _stored(data_dir: Path) -> dict[str, int]:
    """Rows per request name in the loader's chdb (read with `vitrina sql` on its folder)."""
    query = "SELECT metric_name AS n, count() AS c FROM vitrina.metrics GROUP BY n"
    done = cli("sql", "--data-dir", str(data_dir), "--format", "json", query)
    assert done.returncode == 0, done.stderr
    return {r["n"]: int(r["c"]) for r in json.loads(done.stdout)["data"]}


def test_workers_and_loader_killed_under_load_store_each_acknowledged_event_once(
    tansu: Tansu, roles: Callable[..., Role], tmp_folder: Path
) -> None:
    config = _config(tmp_folder)
    load_dir = tmp_folder / "load"
    loader = roles("load", "--data-dir", str(load_dir), env=_env(tansu), config=config).start()
    # The api's warehouse does not answer: intake needs only the broker.
    api_env = _env(tansu, VITRINA_DSN=_unreachable_dsn())
    api = roles("api", "--workers", "3", "--data-dir", str(tmp_folder / "api"), env=api_env, config=config).start()
    workers = api.children()
    assert len(workers) == 3
    sql = httpx.post(f"{api.url}/v1/sql", content=b"SELECT 1", timeout=10)
    assert sql.status_code == 503 and sql.json()["error"] == "not_ready", sql.text

    producer = Producer(api.url)
    try:
        wait_until(lambda: producer.count() >= 40, 60, "40 requests acknowledged")
        api_killed = workers[1]
        os.kill(api_killed, signal.SIGKILL)
        seen = producer.count()
        wait_until(lambda: producer.count() >= seen + 40, 60, "intake going on after a worker's SIGKILL")
        wait_until(lambda: len(api.children()) == 3 and api_killed not in api.children(), 30, "the worker replaced")
        wait_until(lambda: metric_value(loader, "vitrina_loaded_events_total", stream="metrics") > 0, 60, "the loader loading")
        assert loader.proc is not None
        loader.proc.kill()  # SIGKILL mid-load
        loader.proc.wait(30)
        seen = producer.count()
        wait_until(lambda: producer.count() >= seen + 40, 60, "intake going on while no loader runs")
        loader.start()
    finally:
        producer.stop()
    acked = producer.acked
    wait_until(lambda: _loaded_everything(tansu.bootstrap), 120, "the loader to commit every message")
    assert loader.stop() == 0, loader.tail()

    stored = _stored(load_dir)
    missing = [i for i in acked if stored.get(f"p-{i}") != PER_REQUEST]
    examples = [(i, stored.get(f"p-{i}")) for i in missing[:5]]
    assert not missing, f"{len(missing)} acknowledged requests not stored exactly once, e.g. {examples}"
    assert all(n == PER_REQUEST for n in stored.values()), "a request stored twice or in part"
    assert set(stored) <= {f"p-{i}" for i in acked | producer.failed}
    assert len(acked) >= 120


def test_metrics_of_all_workers_are_summed(tansu: Tansu, roles: Callable[..., Role], tmp_folder: Path) -> None:
    """Whichever worker a scrape reaches, it answers the events of all of them."""
    api = roles("api", "--workers", "3", "--data-dir", str(tmp_folder / "api"), env=_env(tansu, VITRINA_DSN=_unreachable_dsn()))
    api.start()
    batch = [{"metric_name": "m", "metric_value": 1}] * 10

    def post(_: int) -> int:
        with httpx.Client(timeout=30) as client:  # a connection each: the kernel spreads them over the workers
            return client.post(f"{api.url}/v1/streams/metrics", json=batch).status_code

    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(post, range(60))) == {200}

    def every_scrape_sums() -> bool:
        return all(metric_value(api, "vitrina_accepted_events_total", stream="metrics") == 600 for _ in range(6))

    wait_until(every_scrape_sums, 20, "every scrape to count the 600 events of all workers")
    assert metric_value(api, "vitrina_intake_requests_total", status="200") >= 60
    workers = api.children()
    assert api.stop() == 0, api.tail()  # SIGTERM: every worker drains and ends, then the supervisor
    assert not [p for p in workers if Path(f"/proc/{p}").exists()], "a worker outlived its supervisor"


def test_direct_transport_refuses_more_than_one_worker(tmp_folder: Path) -> None:
    done = cli("api", "--workers", "2", "--transport", "direct", "--data-dir", str(tmp_folder))
    assert done.returncode == 2
    assert "--transport direct" in done.stderr and "one process" in done.stderr, done.stderr
    assert not (tmp_folder / "clickhouse").exists(), "refused before touching the data folder"
