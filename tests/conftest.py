"""Tests run against a real `vitrina up`: a subprocess with a real socket and a real chdb folder."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GaveUp(AssertionError):
    """Raised by a polled check that knows waiting longer cannot help (a process died)."""


def wait_until(check: Any, timeout: float = 30.0, what: str = "condition", interval: float = 0.05) -> Any:
    """Poll `check` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except GaveUp:
            raise
        except Exception as exc:  # the thing polled may not be up yet
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc})")


INTAKE_PATHS = ("/v1/streams/", "/upload/metrics/", "/events/")


def terminate(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM a vitrina process (a server or a role) and wait for its exit code."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout)


class VitrinaProcess:
    """One `vitrina up` on a data folder; can be stopped, killed and started again."""

    def __init__(self, data_dir: Path, config: Path | None = None, extra_args: list[str] | None = None) -> None:
        self.data_dir = data_dir
        self.headers: dict[str, str] = {}  # sent by settle() and sql(): a read key under [auth]
        self.config = config
        self.extra_args = extra_args or []
        self.launcher = ["-m", "vitrina"]  # python's arguments that run vitrina (tests/faults.py has another)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"vitrina-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process without waiting for it to be ready (it may be meant to die)."""
        cmd = [sys.executable, *self.launcher, "up", "--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra_args]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        return self.proc

    def start(self, timeout: float = 60.0) -> VitrinaProcess:
        self.spawn()

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise GaveUp(f"vitrina exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200

        wait_until(ready, timeout, "vitrina /readyz")
        return self

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait: the clean shutdown path (drains the writer)."""
        assert self.proc is not None
        code, self.proc = terminate(self.proc, timeout), None
        return code

    def kill(self) -> None:
        """SIGKILL: the crash path."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)
        self.proc = None

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every acknowledged row is in ClickHouse: with `[writer] ack = "wal"` (the
        default) a request is answered once its rows are in the write-ahead log, and they are
        inserted behind it."""
        resp = httpx.post(f"{self.url}/v1/flush", params={"timeout": timeout}, headers=self.headers, timeout=timeout + 5)
        # 409: a Kafka or Redis transport, where the tests wait for the loaders themselves
        assert resp.status_code == 200 or resp.json().get("error") == "not_direct", resp.text

    def sql(self, query: str, settle: bool = True) -> list[dict[str, Any]]:
        """Run a query on everything acknowledged so far (or, not settling, on what is inserted)."""
        if settle:
            self.settle()
        resp = httpx.post(f"{self.url}/v1/sql", content=query.encode(), headers=self.headers, timeout=60)
        assert resp.status_code == 200, resp.text
        return list(resp.json()["data"])

    def scalar(self, query: str, settle: bool = True) -> Any:
        rows = self.sql(query, settle)
        return next(iter(rows[0].values()))

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        """POST; events accepted by an intake path are settled into ClickHouse before this
        returns, so a test reads what it sent through any endpoint (SQL, rollups, dashboards,
        alert rounds, models). Tests of the acknowledgement itself use httpx directly."""
        resp = (
            httpx.post(f"{self.url}{path}", json=body, timeout=30, **kw)
            if body is not None
            else httpx.post(f"{self.url}{path}", timeout=30, **kw)
        )
        if resp.is_success and path.startswith(INTAKE_PATHS):
            self.settle()
        return resp


@pytest.fixture
def tmp_folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vitrina-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`vitrina ARGS...` in a subprocess, as a user runs it."""
    env = {**os.environ, "COLUMNS": "250"}  # rich tables at full width
    return subprocess.run([sys.executable, "-m", "vitrina", *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


@pytest.fixture
def make_vitrina(tmp_folder: Path) -> Iterator[Any]:
    """A factory for servers on fresh (or given) data folders; all are stopped at the end."""
    started: list[VitrinaProcess] = []

    def make(
        config_text: str | None = None, data_dir: Path | None = None, start: bool = True, extra_args: list[str] | None = None
    ) -> VitrinaProcess:
        config = None
        if config_text is not None:
            config = tmp_folder / f"config-{len(started)}.toml"
            config.write_text(config_text)
        v = VitrinaProcess(data_dir or tmp_folder / "data", config, extra_args)
        started.append(v)
        return v.start() if start else v

    yield make
    for v in started:
        if v.proc is not None:
            v.proc.kill()
            v.proc.wait(30)


@pytest.fixture(scope="module")
def vitrina() -> Iterator[VitrinaProcess]:
    """One server shared by a test module (tests use their own markers to tell their rows apart)."""
    folder = Path(tempfile.mkdtemp(prefix="vitrina-test-"))
    v = VitrinaProcess(folder / "data").start()
    yield v
    if v.proc is not None:
        v.stop()
    shutil.rmtree(folder, ignore_errors=True)


# Debian's Chromium, driven by Playwright (which never downloads a browser of its own here).
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
