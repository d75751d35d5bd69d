"""Servers vitrina needs (Kafka, Redis, a ClickHouse server): whether they answer.

At start-up a server that does not answer gets one line (what, where, what to check), then
a bounded retry with backoff; if it still does not answer, start-up fails with one line. While
running, a client that fails reports it here: one log line when the server stops answering,
one when it answers again, and /readyz is not ready in between (health.StorageHealth).

The probe is a TCP connect rather than the client libraries' own: librdkafka logs every failed
connect (hundreds of lines while a broker is down) and redis-py raises a traceback per try.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from vitrina.config import TransportSettings
from vitrina.health import StorageHealth

log = logging.getLogger(__name__)

# How long start-up waits for a server before it gives up (VITRINA_START_WAIT_S: seconds).
START_WAIT_S = float(os.environ.get("VITRINA_START_WAIT_S", "30"))
_BACKOFF_FIRST_S, _BACKOFF_MAX_S = 0.25, 5.0


class Unreachable(SystemExit):
    """Start-up gave up on a server: one line, no traceback (a SystemExit)."""


def kafka_addresses(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        if "://" in host:
            host = host.split("://", 1)[1]
        out.append((host.strip("[]") or "127.0.0.1", int(port or 9092)))
    return out


def url_address(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def tcp_problem(addresses: list[tuple[str, int]], timeout: float = 2.0) -> str | None:
    """None if any address accepts a TCP connection, else why the last one did not."""
    problem = "no address"
    for host, port in addresses:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as exc:
            problem = exc.strerror or str(exc)
    return problem


class Server:
    """One server: its name for people, its address, and what to check when it does not answer."""

    def __init__(self, what: str, where: str, addresses: list[tuple[str, int]], hint: str, health: StorageHealth | None = None) -> None:
        self.what, self.where, self.addresses, self.hint = what, where, addresses, hint
        self.health = health
        self._lock = threading.Lock()
        self._down: str | None = None

    def problem(self) -> str | None:
        return tcp_problem(self.addresses)

    def line(self, problem: str) -> str:
        return f"{self.what} at {self.where} does not answer ({problem}); check {self.hint}"

    def down(self, problem: str) -> None:
        """The client failed: logged once until the server answers again."""
        with self._lock:
            first, self._down = self._down is None, problem
        if first:
            log.warning("%s; retrying", self.line(problem))
        if self.health is not None:
            self.health.server_down(self.what, self.line(problem))

    def up(self) -> None:
        with self._lock:
            was, self._down = self._down, None
        if was is not None:
            log.warning("%s at %s answers again", self.what, self.where)
        if self.health is not None:
            self.health.server_up(self.what)

    @property
    def is_down(self) -> bool:
        return self._down is not None

    def wait(self, timeout_s: float | None = None, stopping: Callable[[], bool] = lambda: False) -> None:
        """Return once the server accepts connections; one line while it does not; after
        `timeout_s` (default START_WAIT_S) raise Unreachable (one line)."""
        timeout_s = START_WAIT_S if timeout_s is None else timeout_s
        problem = self.problem()
        if problem is None:
            self.up()
            return
        if not self.is_down:
            self._down = problem
            log.warning("%s; waiting up to %g s", self.line(problem), timeout_s)
        if self.health is not None:
            self.health.server_down(self.what, self.line(problem))
        deadline = time.monotonic() + timeout_s
        pause = _BACKOFF_FIRST_S
        while time.monotonic() < deadline and not stopping():
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            pause = min(pause * 2, _BACKOFF_MAX_S)
            problem = self.problem()
            if problem is None:
                log.warning("%s at %s answers", self.what, self.where)
                self.up()
                return
        raise Unreachable(f"vitrina: {self.line(problem or 'stopped')}; gave up after {timeout_s:g} s")


def backoff(attempt: int) -> float:
    """The pause before retry `attempt` (0, 1, ...): doubling, capped."""
    return float(min(_BACKOFF_FIRST_S * 2**attempt, _BACKOFF_MAX_S))


def transport_server(transport: TransportSettings, health: StorageHealth | None = None) -> Server | None:
    """The broker of `[transport] kind`, or None for direct."""
    if transport.kind == "kafka":
        where = transport.kafka
        hint = "that the broker runs and `[transport] kafka` (or --kafka) names it"
        return Server("Kafka", where, kafka_addresses(where), hint, health)
    if transport.kind == "redis":
        where = transport.redis
        hint = "that redis-server runs and `[transport] redis` (or --redis) names it"
        return Server("Redis", where, [url_address(where, 6379)], hint, health)
    return None


def clickhouse_server(dsn: str, health: StorageHealth | None = None) -> Server | None:
    """The ClickHouse server of a `http(s)://` DSN, or None for embedded chdb."""
    if not dsn.startswith(("http://", "https://")):
        return None
    port = 8443 if dsn.startswith("https://") else 8123
    host, port = url_address(dsn, port)
    where = f"{host}:{port}"
    return Server("ClickHouse", where, [(host, port)], "that the server runs and `dsn` (or --dsn) names it", health)
