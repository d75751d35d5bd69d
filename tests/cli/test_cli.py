"""The `vitrina` command: sql against a running server and against the data folder, simulate,
streams, and config errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT


def vitrina_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vitrina", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_sql_uses_the_running_server_then_the_folder(make_vitrina: Any) -> None:
    v = make_vitrina()
    assert v.post("/v1/streams/metrics", [{"metric_name": "cli", "metric_value": 2}] * 4).status_code == 200
    query = "SELECT count() AS n, sum(metric_value) AS s FROM vitrina.metrics WHERE metric_name = 'cli'"
    live = vitrina_cli("sql", query, "--data-dir", str(v.data_dir), "--format", "json")
    assert live.returncode == 0, live.stderr
    assert json.loads(live.stdout)["data"] == [{"n": 4, "s": 8.0}]
    refused = vitrina_cli("sql", "DROP TABLE vitrina.metrics", "--data-dir", str(v.data_dir))
    assert refused.returncode == 1 and "403" in refused.stderr
    v.stop()
    offline = vitrina_cli("sql", query, "--data-dir", str(v.data_dir), "--format", "json")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["data"] == [{"n": 4, "s": 8.0}]
    assert vitrina_cli("sql", "DROP TABLE vitrina.metrics", "--data-dir", str(v.data_dir)).returncode == 1


def test_simulate_feeds_every_stream(make_vitrina: Any) -> None:
    v = make_vitrina()
    run = vitrina_cli("simulate", "--url", v.url, "--rate", "300", "--duration", "2", "--seed", "1")
    assert run.returncode == 0, run.stderr
    counts = {
        s: v.scalar(f"SELECT count() FROM vitrina.{s}") for s in ("metrics", "uploads", "quotes", "site_events", "store_events", "probes")
    }
    assert all(n > 0 for n in counts.values()), counts
    # 600 were due; a loaded CI machine may send fewer in time, never more
    assert 150 <= sum(counts.values()) <= 700, counts
    assert v.scalar("SELECT count() FROM vitrina.rejected") == 0


def test_streams_lists_fields_and_config_errors_exit_2(tmp_path: Any) -> None:
    listed = vitrina_cli("streams")
    assert listed.returncode == 0 and "metric_value" in listed.stdout and "url_by_media" in listed.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[writer]\nflush_row = 1\n")
    run = vitrina_cli("up", "--config", str(bad), "--data-dir", str(tmp_path / "d"))
    assert run.returncode == 2 and "flush_row" in run.stderr
