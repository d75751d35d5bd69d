"""A vitrina role in a subprocess (`vitrina api|load|schedule ...`), on a port of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, GaveUp, free_port, terminate, wait_until


class Role:
    def __init__(self, folder: Path, args: list[str], env: dict[str, str], config: Path | None) -> None:
        self.folder = folder
        self.args = args
        self.env = env
        self.config = config
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = folder / f"{args[0]}-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0, ready: bool = True) -> Role:
        cmd = [sys.executable, "-m", "vitrina", *self.args, "--port", str(self.port)]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        log.close()
        wait_until(lambda: self.answers("/readyz" if ready else "/healthz"), timeout, f"{self.args[0]} on {self.port}")
        return self

    def answers(self, path: str) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise GaveUp(f"vitrina {self.args[0]} exited with {self.proc.returncode}:\n{self.tail()}")
        return httpx.get(f"{self.url}{path}", timeout=2).status_code == 200

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=5)

    def tail(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""

    def children(self) -> list[int]:
        """The pids of this process's children (an api's workers)."""
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 70.0) -> int:
        assert self.proc is not None
        code, self.proc = terminate(self.proc, timeout), None
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            pids = self.children() if self.args[0] == "api" else []
            self.proc.kill()
            self.proc.wait(30)
            for pid in pids:  # an api's workers outlive a killed supervisor
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.proc = None


def metric_value(role: Role, name: str, **labels: Any) -> float:
    from tests.log.services import metric

    return metric(role.get("/metrics").text, name, **{k: str(v) for k, v in labels.items()})
