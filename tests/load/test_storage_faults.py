"""Storage faults against a real `vitrina up`: a view that fails with `ack = "insert"`, a full
disk under the write-ahead log, and /readyz telling the truth about both."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import wait_until

QUIET = "[models]\nenabled = false\n[alerts]\nenabled = false\n"
INSERT = '[writer]\nack = "insert"\n' + QUIET

# A view that fails after the raw part of an insert is committed, as long as the flag file
# says 0: the raw table has the rows, a view has not.
TRAP = """
import sys
from vitrina.warehouse.client import Warehouse, parse_dsn
wh = Warehouse(parse_dsn(sys.argv[1], "vitrina"))
wh.command("CREATE TABLE vitrina.trap (metric_name String, n UInt64) ENGINE = MergeTree ORDER BY metric_name "
           "SETTINGS non_replicated_deduplication_window = 1000")
wh.command("CREATE MATERIALIZED VIEW vitrina.trap_mv TO vitrina.trap AS SELECT metric_name, "
           "count() + throwIf((SELECT count() FROM file('" + sys.argv[2] + "', 'CSV', 'x UInt8') WHERE x = 1) = 0) AS n "
           "FROM vitrina.metrics GROUP BY metric_name")
wh.close()
"""


def log_has(v: Any, text: str) -> bool:
    return text in v.log_path.read_text()


def ready(v: Any) -> httpx.Response:
    return httpx.get(f"{v.url}/readyz", timeout=5)


def test_ack_insert_a_batch_whose_view_fails_is_completed_under_its_token(make_vitrina: Any, tmp_folder: Path) -> None:
    v = make_vitrina(INSERT)
    v.stop()
    flag = tmp_folder / "flag.csv"
    flag.write_text("0\n")
    made = subprocess.run([sys.executable, "-c", TRAP, f"chdb://{v.data_dir / 'clickhouse'}", str(flag)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    v.start()
    answers: list[int] = []
    batch = [{"metric_name": "trap", "metric_value": i} for i in range(5)]

    def client() -> None:
        """A client that resends its batch after every 503, as a well-behaved one does."""
        with httpx.Client(timeout=120) as c:
            while not answers or answers[-1] != 200:
                answers.append(c.post(f"{v.url}/v1/streams/metrics", json=batch).status_code)

    sender = threading.Thread(target=client)
    sender.start()
    try:
        wait_until(lambda: log_has(v, "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"), 30, "the view to fail")
        resp = wait_until(lambda: (r := ready(v)).status_code == 503 and r, 30, "/readyz to report the failing warehouse")
        assert resp.json()["error"] == "storage_failing" and "refused inserts" in resp.json()["message"]
        flag.write_text("1\n")  # the operator fixes the view's cause
    finally:
        sender.join(120)
    assert answers[-1] == 200
    assert v.scalar("SELECT count() FROM vitrina.metrics WHERE metric_name = 'trap'") == 5
    assert v.scalar("SELECT countMerge(count) FROM vitrina.metrics_1s WHERE metric_name = 'trap'") == 5
    assert v.scalar("SELECT sum(n) FROM vitrina.trap WHERE metric_name = 'trap'") == 5
    wait_until(lambda: ready(v).status_code == 200, 30, "/readyz ready again")


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` at `where` (root; CI runs as root), unmounted afterwards."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True)
    assert mounted.returncode == 0, f"this test mounts a small tmpfs and needs root: {mounted.stderr.strip()}"
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk."""
    filler = disk / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
    return filler


def send(v: Any, name: str, client: httpx.Client) -> httpx.Response:
    return client.post(f"{v.url}/v1/streams/metrics", json=[{"metric_name": name, "metric_value": i} for i in range(50)])


def test_a_full_disk_under_the_log_recovers_by_itself_and_loses_nothing(make_vitrina: Any, tmp_folder: Path) -> None:
    data = tmp_folder / "data"
    with small_disk(tmp_folder / "disk", "4m") as disk:
        (disk / "wal").mkdir()
        data.mkdir()
        (data / "wal").symlink_to(disk / "wal")
        v = make_vitrina(QUIET, data_dir=data, start=False)
        acked: list[str] = []
        try:
            v.start()
            with httpx.Client(timeout=30) as c:
                for i in range(5):
                    assert send(v, f"before-{i}", c).status_code == 200
                    acked.append(f"before-{i}")
                filler = fill(disk)
                # What still fits in space the log's file already holds is stored; requests of
                # one size, so once one is refused, all are, until space comes back.
                answers = [(f"full-{i:03d}", send(v, f"full-{i:03d}", c)) for i in range(30)]
                codes = [r.status_code for _, r in answers]
                assert 503 in codes and set(codes[codes.index(503) :]) == {503}, codes
                acked += [name for name, r in answers if r.status_code == 200]
                refused = [name for name, r in answers if r.status_code == 503]
                assert answers[-1][1].json()["error"] == "storage_unavailable"
                assert ready(v).json()["error"] == "storage_failing"
                filler.unlink()  # space comes back
                freed = time.monotonic()
                wait_until(lambda: ready(v).status_code == 200, 10, "/readyz ready again, with no request sent")
                for i in range(5):
                    assert send(v, f"after-{i}", c).status_code == 200
                    acked.append(f"after-{i}")
                assert time.monotonic() - freed < 10
            v.kill()
            v.start()
            counts = {r["metric_name"]: r["n"] for r in v.sql("SELECT metric_name, count() AS n FROM vitrina.metrics GROUP BY metric_name")}
            assert {name: counts.get(name) for name in acked} == dict.fromkeys(acked, 50)
            assert not set(refused) & set(counts)  # answered 503, stored nowhere
            rolled = v.scalar("SELECT countMerge(count) FROM vitrina.metrics_1s")
            assert rolled == 50 * len(acked)
        finally:
            if v.proc is not None:
                v.kill()
    shutil.rmtree(data, ignore_errors=True)
