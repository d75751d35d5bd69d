"""The intake's writer for `[writer] ack = "wal"`: requests are answered once their rows are in
the write-ahead log; the WalLoader inserts them into ClickHouse behind (load/wal_loader.py).

Everything a turn of the event loop accepted is appended in one write, on the loop itself (a
write to the page cache takes microseconds): handing each request to a writer thread, as the
group commit does, cost about a quarter of the single-event throughput in GIL hand-offs
(docs/PERFORMANCE.md). With `wal_fsync` one thread runs fdatasync for whatever was appended
while the previous one ran, and the requests are answered after it.

The interface is the GroupCommitWriter's: submit(), start(), close(), pending_rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture

from vitrina.load.group_commit import InsertFn, ObserveFn, Overloaded, StorageError, resolve
from vitrina.load.wal import WriteAheadLog
from vitrina.load.wal_loader import WalLoader

log = logging.getLogger(__name__)


class WalWriter:
    def __init__(
        self,
        wal: WriteAheadLog,
        insert: InsertFn,
        *,
        fsync: bool = True,
        flush_rows: int = 100_000,
        interval_ms: float = 200.0,
        max_pending_rows: int = 1_000_000,
        observe: ObserveFn | None = None,
        probe: Callable[[], object] | None = None,
    ) -> None:
        self.wal = wal
        self.loader = WalLoader(wal, insert, interval_ms=interval_ms, flush_rows=flush_rows, observe=observe, probe=probe)
        self.max_pending_rows = max_pending_rows
        self._items: list[tuple[str, bytes, int]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._rows = 0  # in _items
        self._scheduled = False
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._syncer = _Syncer(wal) if fsync else None

    @property
    def pending_rows(self) -> int:
        """Accepted rows not yet appended to the log (there only for a turn of the loop)."""
        return self._rows

    @property
    def unloaded_rows(self) -> int:
        """Acknowledged rows still only in the log."""
        return self.loader.unloaded_rows

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.loader.start()  # before the first append: it queues what a crash left
        if self._syncer is not None:
            self._syncer.start(loop)

    def submit(self, table: str, rows: bytes, count: int) -> asyncio.Future[None]:
        """Called on the event loop; the future resolves once the rows are in the log."""
        assert self._loop is not None, "writer not started"
        if self._closing:
            raise Overloaded("shutting down")
        waiting = self._rows + self.loader.unloaded_rows
        if waiting + count > self.max_pending_rows and waiting > 0:
            raise Overloaded(f"{waiting} rows waiting for the warehouse")
        fut = self._loop.create_future()
        self._items.append((table, rows, count))
        self._waiters.append(fut)
        self._rows += count
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
            resolve(waiters, StorageError(f"write-ahead log: {exc.strerror or exc}"))
            return
        self.loader.add(records)
        if self._syncer is not None:
            self._syncer.sync(waiters)
        else:
            resolve(waiters, None)

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

    def __init__(self, wal: WriteAheadLog) -> None:
        self.wal = wal
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
                error = StorageError(f"write-ahead log: {exc.strerror or exc}")
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown: nobody waits
                self._loop.call_soon_threadsafe(resolve, taken, error)
