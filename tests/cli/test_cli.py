"""The `vitrina` command: sql against a running server and against the data folder, simulate,
streams, config errors, and the API key of every command that calls a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT

KEY_ENV = "VITRINA_API_KEY"


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


def test_every_command_that_calls_the_server_sends_its_key(make_vitrina: Any) -> None:
    config = "[auth]\nenabled = true\n[models]\nenabled = false\n[alerts]\nenabled = false\n"
    v = make_vitrina(config, start=False)

    def make_key(*args: str) -> str:
        done = vitrina_cli("keys", "add", *args, "--data-dir", str(v.data_dir))
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    reader, operator, shop = make_key("reader", "--read"), make_key("cron", "--operate"), make_key("shop", "--stream", "*")
    v.headers = {"x-api-key": make_key("harness", "--read", "--operate")}
    v.start()
    folder = ["--data-dir", str(v.data_dir)]

    def run(*args: str, key: str | None = None, env_key: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: val for k, val in os.environ.items() if k != KEY_ENV}
        if env_key:
            env[KEY_ENV] = env_key
        extra = ["--key", key] if key else []
        return subprocess.run(
            [sys.executable, "-m", "vitrina", *args, *folder, *extra], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env
        )

    query = "SELECT 1 AS one"
    without = run("sql", query)
    assert without.returncode == 1 and "401" in without.stderr and "--key" in without.stderr and KEY_ENV in without.stderr
    assert json.loads(run("sql", query, "--format", "json", key=reader).stdout)["data"] == [{"one": 1}]
    assert json.loads(run("sql", query, "--format", "json", env_key=reader).stdout)["data"] == [{"one": 1}]
    # reading commands take a read key; actions an operate key, and nothing less
    for args, allowed, other in (
        (("models", "list"), reader, operator),
        (("alerts", "list"), reader, operator),
        (("models", "run", "uploads_minute"), operator, reader),
        (("alerts", "check"), operator, reader),
        (("report", "2026-01-05"), operator, reader),
        (("flush",), operator, reader),
    ):
        done = run(*args, key=allowed)
        assert done.returncode == 0, (args, done.stderr)
        refused = run(*args, env_key=other)
        assert refused.returncode == 1 and "403" in refused.stderr, (args, refused.stderr)
        assert run(*args).returncode == 1, args
    # the simulator sends with a key that may send
    sent = vitrina_cli("simulate", "--url", v.url, "--stream", "metrics", "--rate", "50", "--duration", "1", "--key", shop)
    assert sent.returncode == 0, sent.stderr
    assert v.scalar("SELECT count() FROM vitrina.metrics") > 0
