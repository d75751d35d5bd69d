"""Every command that lists or queries, piped, in every `--format`: json and csv/tsv are read
back and compared with what the server answers, and a piped table holds every cell in full
however narrow the terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, VitrinaProcess

FORMATS = ("table", "json", "csv", "tsv")
LONG = "cli_format_" + "x" * 150  # far wider than any terminal


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    """The command with stdout a pipe, as in `vitrina ... | cat`, on an 80-column terminal."""
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "vitrina", *args], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def parse(fmt: str, text: str) -> list[dict[str, str]] | Any:
    if fmt == "json":
        return json.loads(text)
    return list(csv.DictReader(io.StringIO(text), delimiter="," if fmt == "csv" else "\t"))


def first_cells(text: str) -> list[str]:
    """A piped table's first column (no box: cells are separated by spaces)."""
    lines = text.splitlines()
    return [line.split()[0] for line in lines[1:] if line.strip()]


@pytest.fixture(scope="module")
def fed(vitrina: VitrinaProcess) -> VitrinaProcess:
    events = [{"metric_name": LONG, "metric_value": 3.5}, {"metric_name": "cli_format_short", "metric_value": 4}]
    assert vitrina.post("/v1/streams/metrics", events).status_code == 200
    return vitrina


def test_sql_in_every_format(fed: VitrinaProcess) -> None:
    query = "SELECT metric_name, metric_value, tags FROM metrics WHERE metric_name LIKE 'cli_format%' ORDER BY metric_name"
    server = httpx.post(f"{fed.url}/v1/sql", json={"query": query}, timeout=60).json()
    assert server["rows"] == 2
    got = {fmt: piped("sql", query, "--url", fed.url, "--format", fmt) for fmt in FORMATS}
    assert all(done.returncode == 0 for done in got.values()), {f: d.stderr for f, d in got.items()}
    assert json.loads(got["json"].stdout) == server
    for fmt in ("csv", "tsv"):
        rows = parse(fmt, got[fmt].stdout)
        assert [(r["metric_name"], float(r["metric_value"]), json.loads(r["tags"])) for r in rows] == [
            (d["metric_name"], d["metric_value"], d["tags"]) for d in server["data"]
        ]
    table = got["table"].stdout
    assert LONG in table and "…" not in table and "\x1b[" not in table  # in full, no colour codes
    assert first_cells(table) == [d["metric_name"] for d in server["data"]]


def test_models_list_in_every_format(fed: VitrinaProcess) -> None:
    names = [m["name"] for m in httpx.get(f"{fed.url}/v1/models", timeout=60).json()]
    assert len(names) > 10
    for fmt in FORMATS:
        done = piped("models", "list", "--url", fed.url, "--format", fmt)
        assert done.returncode == 0, done.stderr
        if fmt == "json":
            listed = json.loads(done.stdout)
            assert [m["name"] for m in listed] == names and all("depends" in m and "cadence_s" in m for m in listed)
        elif fmt == "table":
            assert first_cells(done.stdout) == names and "…" not in done.stdout
        else:
            assert [r["model"] for r in parse(fmt, done.stdout)] == names


def test_alerts_list_and_check_in_every_format(fed: VitrinaProcess) -> None:
    rules = httpx.get(f"{fed.url}/v1/alerts", timeout=60).json()
    names = [r["name"] for r in rules]
    for fmt in FORMATS:
        done = piped("alerts", "list", "--url", fed.url, "--format", fmt)
        assert done.returncode == 0, done.stderr
        if fmt == "table":
            assert first_cells(done.stdout) == names and "…" not in done.stdout
            continue
        listed = parse(fmt, done.stdout)
        assert [r["rule"] for r in listed] == names
        if fmt == "json":  # the states as the server has them (an alert round may run between)
            assert [r["labels"] for r in listed] == [r["labels"] for r in rules]
            assert all(a.keys() == {"state", "labels"} for r in listed for a in r["alerts"])
        else:
            assert all(row["alerts"].split()[0] in {"inactive", "pending", "firing", "resolved"} for row in listed)
    checks = {fmt: piped("alerts", "check", "--url", fed.url, "--format", fmt) for fmt in ("json", "csv")}
    assert all(d.returncode == 0 for d in checks.values()), {f: d.stderr for f, d in checks.items()}
    as_json = json.loads(checks["json"].stdout)
    assert {c["rule"] for c in as_json} <= set(names) and as_json
    assert [r["rule"] for r in parse("csv", checks["csv"].stdout)] == [c["rule"] for c in as_json]


def test_keys_and_streams_in_every_format(fed: VitrinaProcess, tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    for args in (["reader", "--read"], ["shop", "--stream", "metrics", "--stream", "uploads", "--rate", "50"]):
        assert piped("keys", "add", *args, "--data-dir", str(folder)).returncode == 0
    expected = [("reader", [], True, False, 0.0), ("shop", ["metrics", "uploads"], False, False, 50.0)]
    for fmt in FORMATS:
        done = piped("keys", "list", "--data-dir", str(folder), "--format", fmt)
        assert done.returncode == 0, done.stderr
        if fmt == "json":
            got = [(k["name"], k["streams"], k["read"], k["operate"], k["events/s"]) for k in json.loads(done.stdout)]
            assert got == expected
        elif fmt == "table":
            assert first_cells(done.stdout) == ["reader", "shop"] and "vk_" not in done.stdout
        else:
            rows = parse(fmt, done.stdout)
            assert [(r["name"], r["streams"], r["read"], float(r["events/s"])) for r in rows] == [
                ("reader", "", "True", 0.0),
                ("shop", "metrics, uploads", "False", 50.0),
            ]

    declared = httpx.get(f"{fed.url}/v1/streams", timeout=60).json()
    fields = [(s["name"], f["name"], f["type"], f["clickhouse_type"]) for s in declared for f in s["fields"]]
    for fmt in ("json", "csv", "tsv"):
        done = piped("streams", "--format", fmt)
        assert done.returncode == 0, done.stderr
        rows = parse(fmt, done.stdout)
        assert [(r["stream"], r["field"], r["type"], r["ClickHouse"]) for r in rows] == fields
    table = piped("streams").stdout
    assert all(ch in table for *_, ch in fields) and "…" not in table
