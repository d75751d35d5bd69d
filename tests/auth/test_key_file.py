"""A key file the running server cannot read: no key is trusted (503 JSON, not the keys read
last, which may include revoked ones), said once in the log, on /readyz and on /metrics, and
over within a second or two of the file being fixed. Real `vitrina up`, real files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.helpers import AUTH, WITHOUT_DAC, key
from tests.conftest import ROOT, VitrinaProcess, cli, wait_until

GAUGE = "vitrina_auth_key_file_readable"


class WithoutDacServer(VitrinaProcess):
    """`vitrina up` as root without the capabilities that let root read any file."""

    def spawn(self) -> subprocess.Popen[bytes]:
        cmd = [*WITHOUT_DAC, sys.executable, "-m", "vitrina", "up", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        return self.proc


def damage(path: Path, how: str) -> None:
    if how == "permission":
        path.chmod(0)
        return
    path.unlink()
    if how == "corrupt":
        path.write_text('{"keys": [{"name": "shop", ')
    elif how == "directory":
        path.mkdir()


def repair(path: Path, good: bytes) -> None:
    if path.is_dir():
        path.rmdir()
    tmp = path.with_suffix(".fixed")
    tmp.write_bytes(good)
    tmp.chmod(0o600)
    os.replace(tmp, path)


def gauge(v: VitrinaProcess) -> str:
    line = next(x for x in httpx.get(f"{v.url}/metrics", timeout=5).text.splitlines() if x.startswith(GAUGE + " "))
    return line.split()[1]


def key_errors(v: VitrinaProcess) -> list[str]:
    return [x for x in v.log_path.read_text().splitlines() if " ERROR vitrina.auth.keys:" in x]


@pytest.mark.parametrize("how", ["corrupt", "directory", "deleted", "permission"])
def test_an_unreadable_key_file_trusts_no_key_visibly(make_vitrina: Any, tmp_folder: Path, how: str) -> None:
    if how == "permission":
        config = tmp_folder / "auth.toml"
        config.write_text(AUTH)
        v: VitrinaProcess = WithoutDacServer(tmp_folder / "data", config)
    else:
        v = make_vitrina(AUTH, start=False)
    shop = key(v.data_dir, "shop", "--stream", "metrics")
    v.headers = {"x-api-key": key(v.data_dir, "reader", "--read")}
    try:
        v.start()
        path = v.data_dir / "keys.json"
        good = path.read_bytes()

        def send() -> httpx.Response:
            return httpx.post(f"{v.url}/v1/streams/metrics", json={"metric_name": "k", "metric_value": 1}, headers={"x-api-key": shop})

        assert send().status_code == 200 and gauge(v) == "1.0"
        damage(path, how)
        refused = wait_until(lambda: (r := send()).status_code == 503 and r, 5, "the damaged key file noticed")
        body = refused.json()
        assert body["error"] == "keys_unavailable" and "keys.json" in body["message"], body
        assert refused.headers["content-type"] == "application/json" and refused.headers["retry-after"] == "1"
        assert str(v.data_dir) not in body["message"]  # the caller is not told where the file is
        for _ in range(30):  # a second of traffic and more: every key refused, the log told once
            assert send().status_code == 503
            sql = httpx.post(f"{v.url}/v1/sql", content=b"SELECT 1", headers=v.headers)
            assert sql.status_code == 503 and sql.json()["error"] == "keys_unavailable"
            time.sleep(0.05)
        ready = httpx.get(f"{v.url}/readyz")
        assert ready.status_code == 503 and ready.json()["error"] == "keys_unavailable" and "keys.json" in ready.json()["message"]
        assert httpx.get(f"{v.url}/healthz").status_code == 200
        assert gauge(v) == "0.0"
        errors = key_errors(v)
        assert len(errors) == 1 and str(path) in errors[0], errors

        repair(path, good)
        fixed_at = time.monotonic()
        wait_until(lambda: send().status_code == 200, 5, "the repaired key file trusted")
        recovered_in = time.monotonic() - fixed_at
        print(f"key file {how}: trusted again {recovered_in:.2f} s after the repair")
        assert recovered_in < 2.5
        assert httpx.get(f"{v.url}/readyz").status_code == 200 and gauge(v) == "1.0"
        assert "readable again" in v.log_path.read_text() and len(key_errors(v)) == 1
    finally:
        if v.proc is not None:
            v.kill()


def test_a_server_started_before_any_key_is_not_ready_until_one_is_made(make_vitrina: Any) -> None:
    v = make_vitrina(AUTH, start=False)
    v.spawn()
    try:
        wait_until(lambda: httpx.get(f"{v.url}/healthz", timeout=1).status_code == 200, 60, "the server up")
        ready = httpx.get(f"{v.url}/readyz")
        assert ready.status_code == 503 and "does not exist" in ready.json()["message"], ready.text
        assert "vitrina keys add" in ready.json()["message"]
        token = key(v.data_dir, "shop", "--stream", "metrics")
        wait_until(lambda: httpx.get(f"{v.url}/readyz", timeout=1).status_code == 200, 5, "ready once a key exists")
        sent = httpx.post(f"{v.url}/v1/streams/metrics", json={"metric_name": "k", "metric_value": 1}, headers={"x-api-key": token})
        assert sent.status_code == 200
        listed = cli("keys", "list", "--data-dir", str(v.data_dir))
        assert listed.returncode == 0 and "shop" in listed.stdout
    finally:
        v.kill()
