"""The attacks that got through the SQL endpoint, sent during a real load into a real
`vitrina up` through every way a reader has: GET and POST `/v1/sql`, `vitrina sql` against the
server, and `vitrina sql` on the data folder. Each is refused with a 4xx JSON error; no file
is written, keys.json stays as it was, and the load is stored exactly once."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import VitrinaProcess, cli

BATCH = 500
ROUNDS = 3  # of all attacks over HTTP while the load runs


def attacks(targets: Path, keys: Path, mark: str) -> list[tuple[str, int]]:
    """(query, status): what was tried, each with the answer it must get now."""
    return [
        (f"SELECT 'x' INTO OUTFILE '{targets}/plain'", 403),
        (f"SELECT 'x' INTO OUTFILE '{targets}/truncate' TRUNCATE", 403),
        (f"SELECT 'x' INTO OUTFILE '{targets}/append' APPEND", 403),
        (f"SELECT 'exact bytes' INTO OUTFILE '{targets}/raw' FORMAT RawBLOB", 403),
        (f"SELECT '[]' INTO OUTFILE '{keys}' TRUNCATE FORMAT RawBLOB", 403),
        (f"SELECT $$'$$; SELECT 'x' INTO OUTFILE '{targets}/dollar'", 400),
        (f"SELECT * FROM file('{keys}', 'RawBLOB')", 403),
        (f"SELECT file('{keys}')", 403),
        (f"INSERT INTO FUNCTION file('{targets}/insert', 'CSV', 'x String') VALUES ('x')", 403),
        ("KILL QUERY WHERE query ILIKE '%INSERT INTO vitrina.%'", 403),
        ("KILL QUERY WHERE query ILIKE '%INSERT INTO vitrina.%' SYNC", 403),
        ("SYSTEM STOP MERGES", 403),
        ("OPTIMIZE TABLE vitrina.metrics FINAL", 403),
        ("SET max_memory_usage = 0", 403),
        ("SELECT 1 SETTINGS max_execution_time = 100000", 403),
        (f"INSERT INTO vitrina.metrics (metric_name, metric_value) VALUES ('{mark}', -1)", 403),
        ("TRUNCATE TABLE vitrina.metrics", 403),
        ("ALTER TABLE vitrina.metrics DELETE WHERE 1", 403),
        ("DROP TABLE vitrina.metrics_1s", 403),
        ("CREATE TABLE vitrina.x (a Int8) ENGINE = Memory", 403),
    ]


# The ones the CLI sends (a process each, so fewer): a file written, keys.json, the
# one-statement trick, the KILL that broke exactly-once.
CLI_ATTACKS = (0, 3, 4, 5, 6, 9, 11)


def refused_over_http(v: VitrinaProcess, query: str, status: int) -> list[str]:
    problems = []
    for how, resp in (
        ("GET", httpx.get(f"{v.url}/v1/sql", params={"query": query}, timeout=30)),
        ("POST text", httpx.post(f"{v.url}/v1/sql", content=query.encode(), timeout=30)),
        ("POST json", httpx.post(f"{v.url}/v1/sql", json={"query": query}, timeout=30)),
    ):
        body = resp.json() if resp.headers.get("content-type") == "application/json" else {}
        if resp.status_code != status or not {"error", "message"} <= set(body):
            problems.append(f"{how} {query!r}: {resp.status_code} {resp.text[:200]}")
    return problems


def refused_by_cli(query: str, status: int, data_dir: Path) -> list[str]:
    done = cli("sql", query, "--data-dir", str(data_dir))
    if done.returncode == 1 and f"{status}:" in done.stderr:
        return []
    return [f"vitrina sql {query!r}: {done.returncode} {done.stderr[-300:]}"]


def load(v: VitrinaProcess, mark: str, stop: threading.Event, sent: list[int], failures: list[str]) -> None:
    """Batches of distinct values until `stop` (the attacks are done); `sent` counts batches."""
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            b = len(sent)
            events = [{"metric_name": mark, "metric_value": b * BATCH + i} for i in range(BATCH)]
            resp = client.post(f"{v.url}/v1/streams/metrics", json=events)
            if resp.status_code != 200 or resp.json().get("accepted") != BATCH:
                failures.append(f"batch {b}: {resp.status_code} {resp.text[:200]}")
                return
            sent.append(b)


def stored_once(v: VitrinaProcess, mark: str) -> dict[str, Any]:
    row = v.sql(
        f"SELECT count() AS n, uniqExact(metric_value) AS distinct_values, min(metric_value) AS low, max(metric_value) AS high"
        f" FROM vitrina.metrics WHERE metric_name = '{mark}'"
    )[0]
    row["rollup"] = v.scalar(f"SELECT countMerge(count) FROM vitrina.metrics_1s WHERE metric_name = '{mark}'")
    row["rejected"] = v.scalar(f"SELECT count() FROM vitrina.rejected WHERE position(raw, '{mark}') > 0")
    return row


def test_no_reader_writes_a_file_or_disturbs_a_load(make_vitrina: Any, tmp_folder: Path) -> None:
    v = make_vitrina(start=False)
    made = cli("keys", "add", "shop", "--stream", "metrics", "--data-dir", str(v.data_dir))
    assert made.returncode == 0, made.stderr
    keys = v.data_dir / "keys.json"
    keys_before = keys.read_bytes()
    targets = tmp_folder / "targets"
    targets.mkdir()
    mark = f"ro-{uuid.uuid4().hex[:10]}"
    tried = attacks(targets, keys, mark)
    v.start()

    failures: list[str] = []
    stop, sent = threading.Event(), []  # type: ignore[var-annotated]
    sender = threading.Thread(target=load, args=(v, mark, stop, sent, failures))
    cli_problems: list[str] = []
    online = threading.Thread(target=lambda: [cli_problems.extend(refused_by_cli(*tried[i], v.data_dir)) for i in CLI_ATTACKS])
    sender.start()
    online.start()
    http_problems: list[str] = []
    for _ in range(ROUNDS):
        for query, status in tried:
            http_problems.extend(refused_over_http(v, query, status))
    online.join()
    stop.set()
    sender.join()
    assert not failures, failures[:5]
    assert not http_problems, http_problems[:10]
    assert not cli_problems, cli_problems
    total = len(sent) * BATCH
    assert len(sent) >= 20, "the load was too small to be disturbed"
    expected = {"n": total, "distinct_values": total, "low": 0, "high": total - 1, "rollup": total, "rejected": 0}
    assert stored_once(v, mark) == expected

    # on the data folder itself, with no server running
    v.stop()
    offline = [p for i in CLI_ATTACKS for p in refused_by_cli(*tried[i], v.data_dir)]
    assert not offline, offline
    listed = cli("sql", f"SELECT count() AS n FROM metrics WHERE metric_name = '{mark}'", "--data-dir", str(v.data_dir), "--format", "json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["data"] == [{"n": total}], listed.stderr

    assert sorted(p.name for p in targets.iterdir()) == [], "a reader wrote a file"
    assert keys.read_bytes() == keys_before
    v.start()
    assert stored_once(v, mark) == expected


def test_a_read_key_cannot_rewrite_the_keys(make_vitrina: Any) -> None:
    """With auth on, a read key once rewrote keys.json and locked every real key out."""
    v = make_vitrina("[auth]\nenabled = true\n", start=False)
    shop = cli("keys", "add", "shop", "--stream", "metrics", "--data-dir", str(v.data_dir)).stdout.strip()
    analyst = cli("keys", "add", "analyst", "--read", "--data-dir", str(v.data_dir)).stdout.strip()
    operator = cli("keys", "add", "operator", "--read", "--operate", "--data-dir", str(v.data_dir)).stdout.strip()
    keys = v.data_dir / "keys.json"
    before = keys.read_bytes()
    v.start()
    v.headers = {"x-api-key": operator}  # the test's own reads, which flush first
    for query in (
        f"SELECT '[]' INTO OUTFILE '{keys}' TRUNCATE",
        f"SELECT '[]' INTO OUTFILE '{keys}' TRUNCATE FORMAT RawBLOB",
        f"SELECT * FROM file('{keys}', 'RawBLOB')",
    ):
        resp = httpx.post(f"{v.url}/v1/sql", content=query.encode(), headers={"x-api-key": analyst})
        assert resp.status_code == 403 and resp.json()["error"] == "not_allowed", resp.text
    assert keys.read_bytes() == before
    sent = httpx.post(f"{v.url}/v1/streams/metrics", json={"metric_name": "keys", "metric_value": 1}, headers={"x-api-key": shop})
    assert sent.status_code == 200, sent.text
    assert v.scalar("SELECT count() FROM metrics WHERE metric_name = 'keys'") == 1
