"""`vitrina import`: every format and compression, told from the content; validation with
rejected rows and their reasons; a second import of the same files stores nothing twice; a
progress bar on a terminal and a final line with events/s; a folder a server holds is refused."""

from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from tests.conftest import ROOT

SQL_COUNT = "SELECT count() AS n FROM vitrina.site_events"


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vitrina", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def seed_event(i: int) -> dict[str, Any]:
    """Shaped like the site-events seed's events (its POST /events/ body)."""
    event: dict[str, Any] = {
        "dt": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}",
        "name": "click" if i % 3 == 0 else "view",
        "user_id": i % 997,
        "url": f"https://shop.example/product/{1 + i % 4}",
        "obj": "button" if i % 3 == 0 else "page",
        "obj_id": "add_to_cart" if i % 3 == 0 else "",
        "product_id": 1 + i % 4,
        "amount": float(i % 200),
    }
    if i % 5 == 0:
        event["exp"] = {"banner": "b" if i % 2 else "a"}
    return event


BAD = {"dt": "2026-11-01T00:00:00", "name": "view", "user_id": -5, "url": "not a url", "obj": "page"}


def write_files(folder: Path, n: int) -> tuple[list[Path], int]:
    """The same kind of events in every format the import takes; each file has one bad
    event. Returns the files and the good events in them."""
    files = []
    good = 0

    def events(offset: int) -> list[dict[str, Any]]:
        nonlocal good
        good += n
        return [seed_event(offset + i) for i in range(n)] + [BAD]

    ndjson = "".join(json.dumps(e) + "\n" for e in events(0)).encode()
    files.append(folder / "events.xz")  # the seed's history file: xz, named without a format
    files[-1].write_bytes(lzma.compress(ndjson))
    files.append(folder / "array.json.gz")
    files[-1].write_bytes(gzip.compress(json.dumps(events(n)).encode()))
    files.append(folder / "lines.zst")
    files[-1].write_bytes(zstandard.ZstdCompressor().compress("".join(json.dumps(e) + "\n" for e in events(2 * n)).encode()))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["dt", "name", "user_id", "url", "obj", "obj_id", "product_id", "amount", "exp"])
    writer.writeheader()
    for e in events(3 * n):
        writer.writerow({**e, "exp": json.dumps(e["exp"]) if "exp" in e else ""})
    files.append(folder / "plain.csv")
    files[-1].write_text(text.getvalue())
    rows = events(4 * n)
    table = pa.Table.from_pylist([{k: v for k, v in e.items() if k != "exp"} for e in rows])
    files.append(folder / "table.parquet")
    pq.write_table(table, files[-1])
    return files, good


def count(data: Path, query: str = SQL_COUNT) -> Any:
    result = run("sql", query, "--data-dir", str(data), "--format", "json")
    assert result.returncode == 0, result.stderr
    return next(iter(json.loads(result.stdout)["data"][0].values()))


def test_every_format_once_with_rejected_rows(tmp_folder: Path) -> None:
    data = tmp_folder / "data"
    data.mkdir()
    files, good = write_files(tmp_folder, 2000)
    args = ["import", *map(str, files), "--stream", "site_events", "--data-dir", str(data), "--batch-rows", "700"]
    first = run(*args)
    assert first.returncode == 0, first.stderr
    final = re.search(r"imported (\d+) events into site_events: (\d+) valid, (\d+) rejected, [\d.]+ s, (\d+) events/s", first.stdout)
    assert final is not None, first.stdout
    assert (int(final[1]), int(final[2]), int(final[3])) == (good + len(files), good, len(files))
    assert int(final[4]) > 0
    told = [("events.xz", "ndjson, xz"), ("array.json.gz", "json, gzip"), ("lines.zst", "ndjson, zstd"), ("plain.csv", "csv, none")]
    for name, fmt in told:
        assert re.search(rf"{re.escape(name)}: 2,001 events \({fmt}\)", first.stderr), first.stderr
    assert count(data) == good
    # the CSV's text cells became the declared types: its exp maps and numbers are stored
    assert count(data, "SELECT count() FROM vitrina.site_events WHERE exp['banner'] != ''") == 4 * 400
    rejected = json.loads(
        run("sql", "SELECT position, reason FROM vitrina.rejected ORDER BY position", "--data-dir", str(data), "--format", "json").stdout
    )["data"]
    assert sorted(r["position"] for r in rejected) == sorted(f"{f.name}#2001" for f in files)
    assert all(r["reason"].startswith("user_id") for r in rejected), rejected

    again = run(*args)
    assert again.returncode == 0, again.stderr
    assert count(data) == good, "a second import stored rows twice"
    assert count(data, "SELECT count() FROM vitrina.rejected") == len(files)
    assert count(data, "SELECT countMerge(events) FROM vitrina.site_events_1m") == good, "the rollup counted rows twice"


def test_progress_bar_on_a_terminal(tmp_folder: Path) -> None:
    data = tmp_folder / "data"
    data.mkdir()
    path = tmp_folder / "events.xz"
    path.write_bytes(lzma.compress("".join(json.dumps(seed_event(i)) + "\n" for i in range(30_000)).encode()))
    cmd = shlex.join([sys.executable, "-m", "vitrina", "import", str(path), "--stream", "site_events", "--data-dir", str(data)])
    # `script` runs the command on a pseudo-terminal, as a user's shell would
    shown = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert shown.returncode == 0, shown.stdout
    assert "━" in shown.stdout and "30,000 events" in shown.stdout, shown.stdout
    assert re.search(r"\d+ events/s", shown.stdout)
    piped = run("import", str(path), "--stream", "site_events", "--data-dir", str(data))
    assert piped.returncode == 0 and "━" not in piped.stderr + piped.stdout  # no bar in a pipe


def test_a_folder_a_server_holds_is_refused(tmp_folder: Path, make_vitrina: Any) -> None:
    v = make_vitrina()
    path = tmp_folder / "events.ndjson"
    path.write_text(json.dumps(seed_event(1)) + "\n")
    refused = run("import", str(path), "--stream", "site_events", "--data-dir", str(v.data_dir))
    assert refused.returncode != 0
    assert "another vitrina runs on" in refused.stderr and v.url in refused.stderr, refused.stderr
    unknown = run("import", str(path), "--stream", "nosuch", "--data-dir", str(v.data_dir))
    assert unknown.returncode == 2 and "no stream 'nosuch'" in unknown.stderr
