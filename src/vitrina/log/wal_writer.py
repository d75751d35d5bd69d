"""The Log of `[writer] ack = "wal"` (the default): requests are answered once their rows are
in the write-ahead log (log/wal.py); its loader inserts them into ClickHouse behind
(load/wal_loader.py, handed in as the `Follower`).

Everything a turn of the event loop accepted is appended in one write, on the loop itself (a
write to the page cache takes microseconds): handing each request to a writer thread, as the
group commit does, cost about a quarter of the single-event throughput in GIL hand-offs
(docs/PERFORMANCE.md). With `wal_fsync` one thread runs fdatasync for whatever was appended
while the previous one ran, and the requests are answered after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future as ThreadFuture
from typing import Protocol

from vitrina.core import REJECTED_TABLE, Overloaded, StorageError
from vitrina.health import StorageHealth
from vitrina.log.base import resolve
from vitrina.log.wal import Record, WriteAheadLog

log = logging.getLogger(__name__)
PROBE_EVERY_S = 1.0  # while appends fail: how often to check whether the disk takes writes again


class Follower(Protocol):
    """What inserts the log behind the writer (load/wal_loader.py: WalLoader)."""

    @property
    def unloaded_rows(self) -> int:
        """Rows appended (acknowledged) and not yet in ClickHouse."""

    def start(self) -> None:
        """Queue what an earlier run left in the log, then start inserting."""

    def add(self, records: list[Record]) -> None:
        """Records just appended."""

    def flush(self, timeout: float) -> bool:
        """Insert everything appended so far now; True once it is in ClickHouse."""

    def close(self, timeout: float) -> None:
        """Insert everything appended so far, then stop."""


class WalWriter:
    def __init__(
        self,
        wal: WriteAheadLog,
        loader: Follower,
        *,
        fsync: bool = True,
        max_pending_rows: int = 1_000_000,
        health: StorageHealth | None = None,
    ) -> None:
        self.wal = wal
        self.health = health or StorageHealth()
        self.loader = loader
        self.max_pending_rows = max_pending_rows
        self._items: list[tuple[str, bytes, int]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._rows = 0  # in _items
        self._scheduled = False
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._syncer = _Syncer(wal, self._sync_failed) if fsync else None

    @property
    def pending(self) -> int:
        """Accepted rows not yet appended to the log (there only for a turn of the loop)."""
        return self._rows

    @property
    def backlog(self) -> int:
        """Acknowledged rows still only in the log."""
        return self.loader.unloaded_rows

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.loader.start()  # before the first append: it queues what a crash left
        if self._syncer is not None:
            self._syncer.start(loop)

    def submit(
        self, stream: str, rows: bytes, count: int, key: bytes | None = None, rejected: bytes = b"", rejected_count: int = 0
    ) -> Awaitable[None]:
        """Called on the event loop; the future resolves once the rows are in the log."""
        assert self._loop is not None, "writer not started"
        if self._closing:
            raise Overloaded("shutting down")
        waiting = self._rows + self.loader.unloaded_rows
        total = count + rejected_count
        if waiting + total > self.max_pending_rows and waiting > 0:
            raise Overloaded(f"{waiting} rows waiting for the warehouse")
        fut = self._loop.create_future()
        if not total:
            fut.set_result(None)
            return fut
        if count:
            self._items.append((stream, rows, count))
        if rejected_count:
            self._items.append((REJECTED_TABLE, rejected, rejected_count))
        self._waiters.append(fut)
        self._rows += total
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._append)
        return fut

    def _append(self) -> None:
        """One write for everything submitted during this turn of the loop, one record per table."""
        self._scheduled = False
        items, waiters = self._items, self._waiters
        self._items, self._waiters, self._rows = [], [], 0
        if not items:
            return
        by_table: dict[str, tuple[list[bytes], int]] = {}
        for table, rows, count in items:
            chunks, n = by_table.get(table, ([], 0))
            chunks.append(rows)
            by_table[table] = (chunks, n + count)
        try:
            records = self.wal.append([(t, b"".join(chunks), n) for t, (chunks, n) in by_table.items()])
        except OSError as exc:  # disk full, I/O error: nothing of this append is acknowledged
            log.error("write-ahead log append failed: %s", exc)
            self._failing(exc)
            resolve(waiters, StorageError(f"write-ahead log: {exc.strerror or exc}"))
            return
        if self.health.wal_error is not None:
            self._recovered()
        self.loader.add(records)
        if self._syncer is not None:
            self._syncer.sync(waiters)
        else:
            resolve(waiters, None)

    def _failing(self, exc: OSError) -> None:
        """Not ready until an append, or a probe every PROBE_EVERY_S, succeeds: intake
        recovers by itself within a second or so of space coming back, traffic or not."""
        first = self.health.wal_error is None
        self.health.wal_failed(exc.strerror or str(exc))
        if first and self._loop is not None:
            self._loop.call_later(PROBE_EVERY_S, self._probe)

    def _sync_failed(self, exc: OSError) -> None:
        """From the sync thread."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                self._loop.call_soon_threadsafe(self._failing, exc)

    def _probe(self) -> None:
        if self.health.wal_error is None or self._closing:
            return
        assert self._loop is not None
        try:
            self.wal.probe_space()
        except OSError:
            self._loop.call_later(PROBE_EVERY_S, self._probe)
            return
        self._recovered()

    def _recovered(self) -> None:
        log.info("write-ahead log: appends work again")
        self.health.wal_ok()

    def flush(self, timeout: float) -> bool:
        """From any thread but the loop's: True once every acknowledged row is in ClickHouse."""
        return self.loader.flush(timeout)

    def close(self, timeout: float = 60.0) -> None:
        """From any thread but the loop's: append what was accepted, sync it, load it all."""
        self._closing = True
        if self._loop is not None and self._loop.is_running():
            done: ThreadFuture[None] = ThreadFuture()

            def flush() -> None:
                self._append()
                done.set_result(None)

            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(flush)
                done.result(timeout)
        if self._syncer is not None:
            self._syncer.close(timeout)
        self.loader.close(timeout)
        self.wal.close()


class _Syncer:
    """One thread: fdatasync, then answer the requests whose rows were appended before it."""

    def __init__(self, wal: WriteAheadLog, on_error: Callable[[OSError], None]) -> None:
        self.wal = wal
        self.on_error = on_error
        self._waiting: list[asyncio.Future[None]] = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="vitrina-wal-sync", daemon=True)
        self._thread.start()

    def sync(self, waiters: list[asyncio.Future[None]]) -> None:
        with self._cond:
            self._waiting.extend(waiters)
            self._cond.notify()

    def close(self, timeout: float) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        assert self._loop is not None
        while True:
            with self._cond:
                while not self._waiting and not self._closing:
                    self._cond.wait()
                if not self._waiting:
                    return
                taken, self._waiting = self._waiting, []
            error: Exception | None = None
            try:
                self.wal.sync()
            except OSError as exc:
                log.error("write-ahead log fdatasync failed: %s", exc)
                self.on_error(exc)
                error = StorageError(f"write-ahead log: {exc.strerror or exc}")
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown: nobody waits
                self._loop.call_soon_threadsafe(resolve, taken, error)
