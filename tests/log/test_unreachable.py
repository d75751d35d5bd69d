"""A server vitrina needs that does not answer: one line at start (what, where, what to
check) and a bounded wait, no traceback and no librdkafka chatter; a Redis that stops while
vitrina runs: one line when it goes, one when it is back, /readyz not ready in between."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, free_port, wait_until
from tests.log.helpers import transport_config, wait_for
from tests.log.services import Redis


def up_refused(tmp_folder: Path, *args: str, config_text: str | None = None) -> tuple[int, str, float]:
    """`vitrina up` against a server that is not there: its exit code, output, and seconds."""
    config = tmp_folder / "c.toml"
    config.write_text(transport_config() if config_text is None else config_text)
    cmd = [
        sys.executable,
        "-m",
        "vitrina",
        "up",
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_folder / "data"),
        "--config",
        str(config),
    ]
    started = time.monotonic()
    done = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "VITRINA_START_WAIT_S": "3"}
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def check_one_line(output: str, what: str, where: str) -> None:
    assert "Traceback" not in output, output[-3000:]
    lines = [ln for ln in output.splitlines() if where in ln]
    assert any(f"{what} at {where} does not answer" in ln and "check" in ln for ln in lines), output[-3000:]
    assert len(output.splitlines()) < 40, f"{len(output.splitlines())} lines:\n{output[-3000:]}"


def test_no_kafka_at_start(tmp_folder: Path) -> None:
    where = f"127.0.0.1:{free_port()}"  # nothing listens there
    code, output, took = up_refused(tmp_folder, "--kafka", where)
    assert code != 0
    check_one_line(output, "Kafka", where)
    assert "gave up after 3 s" in output and took < 60
    assert "librdkafka" not in output and "FAIL" not in output


def test_no_redis_at_start(tmp_folder: Path) -> None:
    where = f"redis://127.0.0.1:{free_port()}/0"
    code, output, took = up_refused(tmp_folder, "--redis", where)
    assert code != 0
    check_one_line(output, "Redis", where)
    assert took < 60


def test_no_clickhouse_server_at_start(tmp_folder: Path) -> None:
    port = free_port()
    config = f'dsn = "http://default:@127.0.0.1:{port}"\n[models]\nenabled = false\n[alerts]\nenabled = false\n'
    code, output, _ = up_refused(tmp_folder, config_text=config)
    assert code != 0
    check_one_line(output, "ClickHouse", f"127.0.0.1:{port}")


def test_redis_stopped_while_running(services: Any, make_vitrina: Any) -> None:
    redis = services(Redis)
    v = make_vitrina(transport_config(), extra_args=["--redis", redis.url])
    port = redis.port
    before = len(v.log_path.read_text())
    redis.kill()
    down = "Redis at " + redis.url + " does not answer"
    wait_for(v, lambda: down in v.log_path.read_text(), 30, "the line saying Redis is down")
    answer = wait_until(lambda: (r := httpx.get(f"{v.url}/readyz", timeout=5)).status_code == 503 and r, 30, "/readyz not ready")
    assert "Redis" in answer.json()["message"]
    # Redis back on the same port: one line, ready again, and intake works
    redis.port = port
    redis.start()
    wait_for(v, lambda: "Redis at " + redis.url + " answers again" in v.log_path.read_text(), 60, "the line saying Redis is back")
    wait_until(lambda: httpx.get(f"{v.url}/readyz", timeout=5).status_code == 200, 30, "/readyz ready again")
    log = v.log_path.read_text()
    assert log.count(down) == 1, log[-3000:]  # the retries meanwhile logged nothing more
    assert "Traceback" not in log[before:], log[before:][-3000:]
    resp = httpx.post(f"{v.url}/v1/streams/metrics", json=[{"metric_name": "back", "metric_value": 1}], timeout=30)
    assert resp.status_code == 200, resp.text
