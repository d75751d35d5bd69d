"""Inserting the write-ahead log into ClickHouse, behind the acknowledgements.

One thread takes the records appended since its last insert (waiting up to `interval_ms`
for more, or until `flush_rows` wait), inserts them table by table with tokens derived from
their log range, then moves the log's `done` mark. The range is written to the log's state
before its inserts, so a process killed in between inserts the very same range again on the
next start, and ClickHouse deduplicates it (load/wal.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from vitrina.load.batches import dead_letters, inserted, retry_forever
from vitrina.load.wal import Record, State, WriteAheadLog, token
from vitrina.warehouse.ddl import REJECTED_TABLE

log = logging.getLogger(__name__)

InsertFn = Callable[[str, bytes, str], None]
ObserveFn = Callable[[str, int, float], None]
# After this many failed inserts of a range, and if the warehouse answers a query, the rows
# themselves are refused (a table altered by hand, a value ClickHouse cannot store): find them.
ATTEMPTS_BEFORE_SPLIT = 3


class _WarehouseDown(Exception):
    pass


class WalLoader:
    def __init__(
        self,
        wal: WriteAheadLog,
        insert: InsertFn,
        *,
        interval_ms: float = 200.0,
        flush_rows: int = 100_000,
        max_insert_rows: int = 1_000_000,
        observe: ObserveFn | None = None,
        probe: Callable[[], object] | None = None,
    ) -> None:
        self.wal = wal
        self._insert = insert
        self.interval_s = interval_ms / 1000
        self.flush_rows = flush_rows
        self.max_insert_rows = max(max_insert_rows, flush_rows)
        self._observe = observe
        self._probe = probe  # raises when the warehouse does not answer
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
            if was_empty or self._queued_rows >= self.flush_rows:
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
                if self._queued_rows >= self.flush_rows or left <= 0 or self._hurry:
                    break
                self._cond.wait(left)
            if not self._queue:
                return None  # closing, nothing left
            # At most about max_insert_rows per insert: a backlog (ClickHouse was down, or a
            # restart found a long log) goes in as several inserts, not one of unbounded size.
            # (Capping at flush_rows instead cost a quarter of the batch intake rate.)
            taken: list[Record] = []
            rows = 0
            while self._queue and (not taken or rows + self._queue[0].count <= self.max_insert_rows):
                record = self._queue.popleft()
                taken.append(record)
                rows += record.count
            self._queued_rows -= rows
            self._hurry = self._hurry and bool(self._queue)
            if self._queue:
                self._since = 0.0  # what is left is due now
            return taken

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
        stopping = lambda: False  # noqa: E731 - a failing warehouse is retried until it answers; the log keeps the rows meanwhile
        done = self.wal.state().done
        if not retry_forever("recording the log range", lambda: self.wal.save_state(State(done, (start, end))), stopping, log.warning):
            return
        for table, rs in by_table.items():
            self._insert_table(table, rs, token(start, end, table), stopping)
        inserted()  # fault injection: a crash here is replayed from the recorded range
        retry_forever("recording the log's progress", lambda: self.wal.save_state(State(end, None)), stopping, log.warning)
        self.wal.trim(end)
        with self._cond:
            self.unloaded_rows -= sum(r.count for r in records)
            self._done = end
            self._cond.notify_all()  # flush() callers

    def _insert_table(self, table: str, records: list[Record], dedup_token: str, stopping: Callable[[], bool]) -> None:
        rows = b"".join(r.rows for r in records)
        started = time.perf_counter()
        retry_forever(f"insert into {table}", lambda: self._store(table, rows, dedup_token), stopping, log.warning)
        if self._observe is not None:
            self._observe(table, sum(r.count for r in records), time.perf_counter() - started)

    def _store(self, table: str, rows: bytes, dedup_token: str) -> None:
        """Insert the rows. Should ClickHouse keep refusing them while it answers queries, the
        refused rows are found by halving (each half inserted under a token derived from its
        place, so a replay does the same) and kept in `rejected` with ClickHouse's reason: an
        acknowledged row is never dropped, and one bad row does not stop the log."""
        for attempt in range(1, ATTEMPTS_BEFORE_SPLIT + 1):
            try:
                self._insert(table, rows, dedup_token)
                return
            except Exception:
                if attempt == ATTEMPTS_BEFORE_SPLIT and table != REJECTED_TABLE and self._answers():
                    break
                if attempt == ATTEMPTS_BEFORE_SPLIT:
                    raise
                time.sleep(0.05 * 2**attempt)
        lines = rows.splitlines(keepends=True)
        refused: list[tuple[str, str, bytes]] = []
        middle = len(lines) // 2
        if middle:
            self._halve(table, lines, 0, middle, dedup_token, refused)
            self._halve(table, lines, middle, len(lines), dedup_token, refused)
        else:
            self._halve_one(table, lines, 0, dedup_token, refused)
        log.warning("%s: ClickHouse refused %d of %d rows; kept in rejected", table, len(refused), len(lines))
        self._insert(REJECTED_TABLE, dead_letters(table, "wal", refused), dedup_token + ":refused")

    def _halve(self, table: str, lines: list[bytes], lo: int, hi: int, tok: str, refused: list[tuple[str, str, bytes]]) -> None:
        if hi - lo == 1:
            self._halve_one(table, lines, lo, tok, refused)
            return
        try:
            self._insert(table, b"".join(lines[lo:hi]), f"{tok}:{lo}-{hi}")
        except Exception:
            if not self._answers():
                raise _WarehouseDown() from None  # start over later: the tokens make it safe
            middle = (lo + hi) // 2
            self._halve(table, lines, lo, middle, tok, refused)
            self._halve(table, lines, middle, hi, tok, refused)

    def _halve_one(self, table: str, lines: list[bytes], i: int, tok: str, refused: list[tuple[str, str, bytes]]) -> None:
        try:
            self._insert(table, lines[i], f"{tok}:{i}-{i + 1}")
        except Exception as exc:
            if not self._answers():
                raise _WarehouseDown() from None
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            refused.append((f"{tok}#{i}", f"ClickHouse refused the row: {reason}"[:1000], lines[i].rstrip(b"\n")))

    def _answers(self) -> bool:
        if self._probe is None:
            return False
        try:
            self._probe()
        except Exception:
            return False
        return True
