"""Group commit: many requests, one insert per table, every request answered after its insert.

chdb charges ~6 ms per insert whatever its size, so inserting per request caps intake near
150 requests/s. Instead, requests hand their already-encoded JSONEachRow rows to this writer
and wait; one writer thread takes everything that piled up while the previous insert ran
(plus up to `linger_ms` more), inserts it table by table, and only then resolves the waiting
requests. Batches therefore grow with load by themselves. A bound on pending rows makes
intake answer 503 instead of growing memory without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """The writer is too far behind: answer 503 with Retry-After."""


class StorageError(Exception):
    """The warehouse refused or failed an insert (after retries)."""


@dataclass
class _Pending:
    chunks: list[bytes] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    rows: int = 0
    since: float = 0.0


# insert(table, jsoneachrow_bytes, dedup_token) -> None; raises on failure.
InsertFn = Callable[[str, bytes, str], None]
ObserveFn = Callable[[str, int, float], None]


class GroupCommitWriter:
    def __init__(
        self,
        insert: InsertFn,
        *,
        flush_rows: int = 100_000,
        linger_ms: float = 0.0,
        max_pending_rows: int = 1_000_000,
        retries: int = 3,
        observe: ObserveFn | None = None,
    ) -> None:
        self._insert = insert
        self.flush_rows = flush_rows
        self.linger_s = linger_ms / 1000
        self.max_pending_rows = max_pending_rows
        self.retries = retries
        self._observe = observe
        self._pending: dict[str, _Pending] = {}
        self._pending_rows = 0
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="vitrina-writer", daemon=True)
        self._thread.start()

    def submit(self, table: str, rows: bytes, count: int) -> asyncio.Future[None]:
        """Queue encoded rows for `table`; the future resolves once they are inserted."""
        assert self._loop is not None, "writer not started"
        fut = self._loop.create_future()
        with self._cond:
            if self._closing:
                raise Overloaded("shutting down")
            if self._pending_rows + count > self.max_pending_rows and self._pending_rows > 0:
                raise Overloaded(f"{self._pending_rows} rows waiting for the writer")
            p = self._pending.get(table)
            if p is None:
                p = self._pending[table] = _Pending(since=time.monotonic())
            p.chunks.append(rows)
            p.waiters.append(fut)
            p.rows += count
            self._pending_rows += count
            self._cond.notify()
        return fut

    def flush(self, timeout: float) -> bool:
        """Every acknowledged row is in ClickHouse already (answers come after the insert)."""
        return True

    def close(self, timeout: float = 60.0) -> None:
        """Stop taking rows, insert everything accepted so far, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- writer thread ------------------------------------------------------------------------

    def _take(self) -> dict[str, _Pending] | None:
        with self._cond:
            while not self._pending:
                if self._closing:
                    return None
                self._cond.wait()
            # Linger a little for more rows unless a table already has a full batch.
            oldest = min(p.since for p in self._pending.values())
            while not self._closing and self._pending_rows < self.flush_rows:
                left = oldest + self.linger_s - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            taken, self._pending = self._pending, {}
            self._pending_rows = 0
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            for table, batch in taken.items():
                error = self._insert_batch(table, batch)
                self._resolve(batch.waiters, error)

    def _insert_batch(self, table: str, batch: _Pending) -> Exception | None:
        data = b"".join(batch.chunks)
        # One token per batch: if an insert is retried after a failure that happened after
        # ClickHouse stored it, the retry is deduplicated instead of stored twice.
        token = uuid.uuid4().hex
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                self._insert(table, data, token)
            except Exception as exc:  # the warehouse's errors are many; all are retried
                log.warning("insert into %s failed (attempt %d): %s", table, attempt + 1, exc)
                if attempt == self.retries:
                    return StorageError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                time.sleep(min(0.05 * 2**attempt, 1.0))
                continue
            if self._observe is not None:
                self._observe(table, batch.rows, time.perf_counter() - started)
            return None
        return StorageError("unreachable")

    def _resolve(self, waiters: list[asyncio.Future[None]], error: Exception | None) -> None:
        assert self._loop is not None
        # RuntimeError: the loop closed during shutdown, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(resolve, waiters, error)


def resolve(waiters: list[asyncio.Future[None]], error: Exception | None) -> None:
    """Answer waiting requests (on the event loop): done, or failed with `error`."""
    for fut in waiters:
        if fut.done():  # the request was cancelled (client went away)
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)
