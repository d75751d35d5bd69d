"""Inserting the write-ahead log into ClickHouse, behind the acknowledgements.

One thread takes the records appended since its last insert (waiting up to `interval_ms`
for more, or until `batch_rows` wait), inserts them table by table through the commit path
(load/commit.py) with tokens derived from their log range, then moves the log's `done` mark.
The range is written to the log's state before its inserts, so a process killed in between
inserts the very same range again on the next start, and ClickHouse deduplicates it
(log/wal.py). It is the write-ahead log's Follower (log/wal_writer.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from vitrina.core import ObserveFn, Sink, describe
from vitrina.health import StorageHealth
from vitrina.load.commit import Batch, Committer
from vitrina.load.retry import never, retry
from vitrina.log.wal import Record, State, WriteAheadLog, token

log = logging.getLogger(__name__)

# An insert carries at most this many bytes of rows too: far below ClickHouse's squashing
# threshold (256 MiB), so an insert is one block and a refused one stored nothing.
MAX_INSERT_BYTES = 64 * 1024 * 1024


class WalLoader:
    def __init__(
        self,
        wal: WriteAheadLog,
        sink: Sink,
        *,
        interval_ms: float = 200.0,
        batch_rows: int = 100_000,
        max_insert_rows: int = 1_000_000,
        observe: ObserveFn | None = None,
        health: StorageHealth | None = None,
    ) -> None:
        self.wal = wal
        self._committer = Committer(sink, health, observe)
        self.interval_s = interval_ms / 1000
        self.batch_rows = batch_rows
        self.max_insert_rows = max(max_insert_rows, batch_rows)
        self._queue: deque[Record] = deque()
        self._queued_rows = 0
        self._since = 0.0
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._replay: list[Record] = []
        self._hurry = False  # flush(): insert without waiting for the interval
        self._done = 0  # log position up to which everything is in ClickHouse
        self.unloaded_rows = 0  # acknowledged, not yet in ClickHouse (read by backpressure)

    def start(self) -> None:
        """Queue what an earlier run left in the log (before the writer appends anything new),
        then start inserting."""
        state = self.wal.state()
        done = self._done = state.done
        if state.inserting is not None:
            self._replay = list(self.wal.read(*state.inserting))
            done = state.inserting[1]
        backlog = list(self.wal.read(done, self.wal.end))
        self.add(backlog)
        self.unloaded_rows += sum(r.count for r in self._replay)
        if self._replay or backlog:
            log.info("write-ahead log: %d rows left by the previous run are inserted now", self.unloaded_rows)
        self._thread = threading.Thread(target=self._run, name="vitrina-wal-loader", daemon=True)
        self._thread.start()

    def add(self, records: list[Record]) -> None:
        if not records:
            return
        rows = sum(r.count for r in records)
        with self._cond:
            was_empty = not self._queue
            if was_empty:
                self._since = time.monotonic()
            self._queue.extend(records)
            self._queued_rows += rows
            self.unloaded_rows += rows
            if was_empty or self._queued_rows >= self.batch_rows:
                self._cond.notify()  # start the interval, or insert now

    def flush(self, timeout: float) -> bool:
        """Insert everything appended so far now; True once it is all in ClickHouse."""
        target = self.wal.end
        with self._cond:
            self._hurry = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def close(self, timeout: float = 60.0) -> None:
        """Insert everything appended so far, then stop."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _take(self) -> list[Record] | None:
        with self._cond:
            while not self._closing:
                if not self._queue:
                    self._cond.wait()
                    continue
                left = self._since + self.interval_s - time.monotonic()
                if self._queued_rows >= self.batch_rows or left <= 0 or self._hurry:
                    break
                self._cond.wait(left)
            if not self._queue:
                return None  # closing, nothing left
            # At most about max_insert_rows per insert: a backlog (ClickHouse was down, or a
            # restart found a long log) goes in as several inserts, not one of unbounded size.
            # (Capping at batch_rows instead cost a quarter of the batch intake rate.)
            taken: list[Record] = []
            rows = size = 0
            while self._queue and (not taken or self._fits(rows, size, self._queue[0])):
                record = self._queue.popleft()
                taken.append(record)
                rows += record.count
                size += len(record.rows)
            self._queued_rows -= rows
            self._hurry = self._hurry and bool(self._queue)
            if self._queue:
                self._since = 0.0  # what is left is due now
            return taken

    def _fits(self, rows: int, size: int, record: Record) -> bool:
        return rows + record.count <= self.max_insert_rows and size + len(record.rows) <= MAX_INSERT_BYTES

    def _run(self) -> None:
        if self._replay:
            # the same range, the same tokens: ClickHouse drops whatever of it it already has
            self._load(self._replay)
            self._replay = []
        while (records := self._take()) is not None:
            self._load(records)

    def _load(self, records: list[Record]) -> None:
        start, end = records[0].start, records[-1].end
        by_table: dict[str, list[Record]] = {}
        for r in records:
            by_table.setdefault(r.table, []).append(r)
        # A failing warehouse is retried until it answers; the log keeps the rows meanwhile.
        done = self.wal.state().done
        retry("recording the log range", lambda: self.wal.save_state(State(done, (start, end))), never, _failed)
        for table, rs in by_table.items():
            self._insert_table(table, rs, token(start, end, table))
        # A crash here is replayed from the recorded range, under the same tokens.
        retry("recording the log's progress", lambda: self.wal.save_state(State(end, None)), never, _failed)
        self.wal.trim(end)
        with self._cond:
            self.unloaded_rows -= sum(r.count for r in records)
            self._done = end
            self._cond.notify_all()  # flush() callers

    def _insert_table(self, table: str, records: list[Record], dedup_token: str) -> None:
        """Insert one table's rows of the range; rows ClickHouse refuses for their data (a
        table altered by hand, a value it cannot store) are kept in `rejected` with its
        reason, under a token of their own: an acknowledged row is never dropped, one bad row
        does not stop the log, and a replay does the very same (load/commit.py)."""
        rows = b"".join(r.rows for r in records)
        batch = Batch(table, dedup_token, rows, sum(r.count for r in records), source="wal", dead_suffix=":refused")
        self._committer.commit(batch)


def _failed(what: str, exc: BaseException) -> None:
    log.warning("%s failed, retrying: %s", what, describe(exc))
