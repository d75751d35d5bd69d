"""The Log of `[writer] ack = "insert"`, which is no log at all: many requests, one insert per
table, every request answered after its insert (read-your-writes). It lives with the loaders
because it is one: its source is the waiting requests, its commit answers them.

chdb charges ~6 ms per insert whatever its size, so inserting per request caps intake near
150 requests/s. Instead, requests hand their already-encoded JSONEachRow rows to this writer
and wait; one writer thread takes everything that piled up while the previous insert ran
(plus up to `commit_linger_ms` more, unless `commit_batch_rows` wait), inserts it table by
table through the commit path (load/commit.py), and only then resolves the waiting requests.
Batches therefore grow with load by themselves. A bound on pending rows makes intake answer
503 instead of growing memory without limit.

An answer is the truth. A failed insert (cancelled, a memory limit, a view failing, the
warehouse down) is retried under the batch's token until it is complete: a failure after the
raw part was committed but before a view's was (answered 503, the client's retry would have
doubled the raw rows) is completed by the retry, and nothing is stored twice. Meanwhile the
requests wait, and new ones get 503 Overloaded once the bound is reached: 503 only for rows
never attempted. A request whose rows ClickHouse refuses for their data (the sink says so) is
answered 503 with the reason and nothing of it is stored; the other requests of its batch
are stored and answered 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field

from vitrina.core import REJECTED_TABLE, Overloaded, StorageError
from vitrina.load.commit import Committer
from vitrina.load.storing import Refused
from vitrina.log.base import resolve

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    chunks: list[bytes] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    rows: int = 0
    since: float = 0.0


class GroupCommit:
    def __init__(
        self,
        committer: Committer,
        *,
        batch_rows: int = 100_000,
        linger_ms: float = 0.0,
        max_pending_rows: int = 1_000_000,
    ) -> None:
        self._committer = committer
        self.batch_rows = batch_rows
        self.linger_s = linger_ms / 1000
        self.max_pending_rows = max_pending_rows
        self._pending: dict[str, _Pending] = {}
        self._pending_rows = 0
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> int:
        return self._pending_rows

    @property
    def backlog(self) -> int:
        """Nothing: a request is answered only once its rows are in ClickHouse."""
        return 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="vitrina-writer", daemon=True)
        self._thread.start()

    def submit(
        self, stream: str, rows: bytes, count: int, key: bytes | None = None, rejected: bytes = b"", rejected_count: int = 0
    ) -> Awaitable[None]:
        """Queue encoded rows; the awaitable is done once they are inserted."""
        assert self._loop is not None, "writer not started"
        parts = [(t, r, n) for t, r, n in ((stream, rows, count), (REJECTED_TABLE, rejected, rejected_count)) if n]
        futures = [self._loop.create_future() for _ in parts]
        with self._cond:
            if self._closing:
                raise Overloaded("shutting down")
            if self._pending_rows + count + rejected_count > self.max_pending_rows and self._pending_rows > 0:
                raise Overloaded(f"{self._pending_rows} rows waiting for the writer")
            for (table, chunk, n), fut in zip(parts, futures, strict=True):
                self._queue(table, chunk, n, fut)
            self._cond.notify()
        return futures[0] if len(futures) == 1 else _all(futures)

    def _queue(self, table: str, rows: bytes, count: int, fut: asyncio.Future[None]) -> None:
        p = self._pending.get(table)
        if p is None:
            p = self._pending[table] = _Pending(since=time.monotonic())
        p.chunks.append(rows)
        p.waiters.append(fut)
        p.rows += count
        self._pending_rows += count

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
            while not self._closing and self._pending_rows < self.batch_rows:
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
                errors = self._insert_batch(table, batch)
                self._resolve(batch.waiters, errors)

    def _insert_batch(self, table: str, batch: _Pending) -> list[Exception | None]:
        """Insert the batch until it is complete; one answer per request."""
        data = b"".join(batch.chunks)
        # One token per batch: a retry after a failure that came after ClickHouse stored part
        # of the insert completes it instead of storing anything twice.
        token = uuid.uuid4().hex
        started = time.perf_counter()
        refused = self._committer.rows.store(table, data, token, groups=lambda: [len(chunk.splitlines()) for chunk in batch.chunks])
        self._committer.observed(table, batch.rows - len(refused), time.perf_counter() - started)
        if not refused:
            return [None] * len(batch.waiters)
        return _answers([len(chunk.splitlines()) for chunk in batch.chunks], refused)

    def _resolve(self, waiters: list[asyncio.Future[None]], errors: list[Exception | None]) -> None:
        assert self._loop is not None
        # RuntimeError: the loop closed during shutdown, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(_resolve_each, waiters, errors)


def _answers(sizes: list[int], refused: list[Refused]) -> list[Exception | None]:
    """Per request: None (stored), or the refusal of the first of its rows ClickHouse refused."""
    out: list[Exception | None] = [None] * len(sizes)
    bounds, first = [], 0
    for size in sizes:
        bounds.append((first, first + size))
        first += size
    for r in refused:
        for n, (lo, hi) in enumerate(bounds):
            if lo <= r.index < hi and out[n] is None:
                out[n] = StorageError(f"nothing of this request was stored, one of its rows was refused: {r.reason}")
    return out


def _resolve_each(waiters: list[asyncio.Future[None]], errors: list[Exception | None]) -> None:
    for fut, error in zip(waiters, errors, strict=True):
        resolve([fut], error)


async def _all(futures: list[asyncio.Future[None]]) -> None:
    await asyncio.gather(*futures)
