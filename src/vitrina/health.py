"""Whether storage works right now: read by GET /readyz and exported on /metrics.

Two parts can fail. The write-ahead log (an append or its fdatasync failed, e.g. a full
disk): intake cannot acknowledge anything, so the pipeline is not ready from the first
failure until an append (or the writer's space probe) succeeds again. The warehouse (an
insert failed): a loader retries it, and a single cancelled insert is normal, so the
pipeline is not ready only once inserts have failed without a success for `grace_s`.

Besides storage: a server vitrina needs (Kafka, Redis, ClickHouse) that does not answer
(vitrina/reach.py), and a loader member that has waited too long for its partitions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# How long inserts may fail without one success before the pipeline reports not ready.
INSERT_GRACE_S = 5.0


class StorageHealth:
    def __init__(self, grace_s: float = INSERT_GRACE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self._lock = threading.Lock()
        self.wal_error: str | None = None  # set while appends fail (read on the hot path: one attribute)
        self._insert_error: str | None = None
        self._insert_failing_since = 0.0
        self._sources: dict[str, str] = {}  # log sources a loader cannot read: {source: error}
        self._servers: dict[str, str] = {}  # a server vitrina needs that does not answer: why
        self._members: dict[str, str] = {}  # a loader member without partitions: why

    # -- the write-ahead log (event loop and sync thread) ----------------------------------------

    def wal_failed(self, error: str) -> None:
        self.wal_error = error

    def wal_ok(self) -> None:
        self.wal_error = None

    # -- the warehouse (loader and writer threads) ---------------------------------------------

    def insert_failed(self, error: str) -> None:
        with self._lock:
            if self._insert_error is None:
                self._insert_failing_since = self._clock()
            self._insert_error = error

    def insert_ok(self) -> None:
        if self._insert_error is not None:
            with self._lock:
                self._insert_error = None

    # -- log sources (loader threads): a topic or Redis key that cannot be read ----------------

    def source_failed(self, source: str, error: str) -> None:
        with self._lock:
            self._sources[source] = error

    def source_ok(self, source: str) -> None:
        if source in self._sources:
            with self._lock:
                self._sources.pop(source, None)

    # -- servers and group members (loader threads, the event loop) --------------------------------

    def server_down(self, name: str, problem: str) -> None:
        with self._lock:
            self._servers[name] = problem

    def server_up(self, name: str) -> None:
        with self._lock:
            self._servers.pop(name, None)

    def member_waiting(self, name: str, problem: str | None) -> None:
        """A loader member that has no assignment for too long (`problem`), or has one (None)."""
        with self._lock:
            if problem is None:
                self._members.pop(name, None)
            else:
                self._members[name] = problem

    # -- readers --------------------------------------------------------------------------------

    @property
    def wal_failing(self) -> bool:
        return self.wal_error is not None

    @property
    def warehouse_failing(self) -> bool:
        with self._lock:
            return self._insert_error is not None and self._clock() - self._insert_failing_since >= self.grace_s

    def problem(self) -> str | None:
        """Why storage is not ready, or None when it is."""
        wal = self.wal_error
        if wal is not None:
            return f"the write-ahead log cannot be written: {wal}"
        with self._lock:
            error, since = self._insert_error, self._insert_failing_since
            sources = sorted(self._sources.items())
            waiting = [*self._servers.values(), *self._members.values()]
        if waiting:
            return "; ".join(waiting)
        if error is not None and self._clock() - since >= self.grace_s:
            return f"the warehouse has refused inserts for {self._clock() - since:.0f} s: {error}"
        if sources:
            return "a log source cannot be read: " + "; ".join(f"{name}: {why}" for name, why in sources)
        return None
