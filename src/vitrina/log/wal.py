"""The write-ahead log behind `[writer] ack = "wal"`: a request is acknowledged once its rows
are appended (and fdatasync'd) here; ClickHouse gets them behind it, in larger inserts.

Why a log of our own: every chdb insert costs 9-18 ms of CPU whatever its size (the raw part
plus one part per materialized view, docs/PERFORMANCE.md), and a request answered only after
its insert waits for the insert already running plus its own. An append and an fdatasync cost
about 0.2 ms. No library offers a small embedded append-only log with this recovery contract,
hence the code here and in log/wal_format.py (the bytes).

Layout of DIR:
- `<position>.wal` segments, named by the log position of their first record. A position is
  a byte offset in the sequence of all records (a segment's own header is not counted), so a
  record keeps its position for ever and the tokens derived from it are stable.
- `state.json`: `done`, the position up to which everything is in ClickHouse, and `inserting`,
  the range being inserted (written before its inserts). After a crash the range is inserted
  again with the same deduplication tokens (`wal:START-END:TABLE`), so ClickHouse drops what
  it already has, in the raw tables and in their materialized views.
- `quarantine/`: bytes the reader could not use (damage, torn appends), one file per stretch,
  named `<segment>+<byte offset in the file>.bad`; trim() never touches them.

Damage: a reader skips bytes that are not an intact record and goes on with the next intact
one; each stretch it skips is copied to the quarantine, logged at ERROR with its segment and
offset, and counted (`on_drop`), once per process. A torn record at the end (a crash in the
middle of an append) was never acknowledged; it is reported the same way, saying so, and cut
off. Appends come from one thread (the event loop's, log/wal_writer.py).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vitrina.log.wal_format import SEGMENT_HEADER, Frame, Gap, parse, parse_v1, record_head, version

log = logging.getLogger(__name__)

_SUFFIX = ".wal"
QUARANTINE = "quarantine"
_PROBE = ".space-probe"
_PROBE_BYTES = 64 * 1024
# on_drop(kind, bytes, records): kind is "damaged" or "torn".
DropFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Record:
    start: int  # log position of the record's header
    end: int  # position right after it
    table: str
    rows: bytes  # JSONEachRow, one row per line
    count: int


@dataclass(frozen=True)
class State:
    done: int = 0
    inserting: tuple[int, int] | None = None


def token(start: int, end: int, table: str) -> str:
    """The deduplication token of one table's rows in the log range [start, end)."""
    return f"wal:{start}-{end}:{table}"


@dataclass(frozen=True)
class _Segment:
    start: int  # log position of its first record
    data: bytes
    base: int  # file offset of its first record
    kind: int  # its framing: 1 written before the current one, 2 the current one, 0 empty
    limit: int  # file offset where its records end (the next segment's start, or its size)

    def position(self, offset: int) -> int:
        return self.start + offset - self.base


class WriteAheadLog:
    def __init__(self, folder: Path, *, durable: bool = True, segment_bytes: int = 64 * 1024 * 1024, on_drop: DropFn | None = None) -> None:
        """append() writes (a crash of this process keeps what it wrote); sync() makes the
        appends survive a power loss too, and `durable` does the same for state, rotation and
        the quarantine."""
        self.folder = folder
        self.durable = durable
        self.segment_bytes = segment_bytes
        self._on_drop = on_drop
        self._reported: set[tuple[int, int]] = set()  # (segment, offset) of gaps reported
        folder.mkdir(parents=True, exist_ok=True)
        self._fd_lock = threading.Lock()  # sync() in another thread must not see a closed fd
        self._fd: int | None = None
        self._segment_start = 0
        self._sync_error: OSError | None = None  # an fdatasync failed on a segment closed since
        self._last: tuple[_Segment, int] | None = None  # the last segment at opening, and its end position
        self.end = self._recover_end()
        self._open_last()

    # -- appending -----------------------------------------------------------------------------

    def append(self, items: list[tuple[str, bytes, int]]) -> list[Record]:
        """Append (table, rows, count) records in one write. On OSError nothing of it is in
        the log (a failed write is cut off again) and the log takes appends as before."""
        if self._fd is None or self.end - self._segment_start >= self.segment_bytes:
            self._rotate()
        fd = self._fd
        assert fd is not None
        out: list[Record] = []
        parts: list[bytes] = []
        pos = self.end
        for table, rows, count in items:
            head = record_head(table.encode(), rows, count)
            parts += (head, rows)
            end = pos + len(head) + len(rows)
            out.append(Record(pos, end, table, rows, count))
            pos = end
        view = memoryview(b"".join(parts))
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            self._cut_failed_append(fd)
            raise
        self.end = pos
        return out

    def _cut_failed_append(self, fd: int) -> None:
        """Nothing of a failed append is acknowledged: cut any part of it that was written, or
        the next appends would follow a torn record. Should even that fail, appends go on in
        a new segment and the torn bytes stay behind the old one's end (reported, never read)."""
        try:
            os.ftruncate(fd, len(SEGMENT_HEADER) + self.end - self._segment_start)
        except OSError as exc:
            log.error("write-ahead log: cannot cut a failed append off segment %d: %s", self._segment_start, exc)
            log.error("write-ahead log: appends go on in a new segment; the torn bytes stay behind the old one's end")
            self._close_fd()

    def _rotate(self) -> None:
        """Start a new segment at the log's end (before an append, so a failure here fails
        that append and nothing else)."""
        old = self._fd
        if old is not None and self.durable:
            os.fdatasync(old)  # what a concurrent sync(), now on the new segment, will not cover
        fd = self._create_segment(self.end)
        with self._fd_lock:
            self._fd, self._segment_start = fd, self.end
        if old is not None:
            os.close(old)

    def _create_segment(self, start: int) -> int:
        path = self._path(start)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            if os.write(fd, SEGMENT_HEADER) != len(SEGMENT_HEADER):
                raise OSError(28, "No space left on device (segment header)")
            if self.durable:
                os.fdatasync(fd)
                _sync_dir(self.folder)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return fd

    def _close_fd(self) -> None:
        with self._fd_lock:
            fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self.durable:
                os.fdatasync(fd)  # the appends before the failed one may still wait for sync()
        except OSError as exc:
            self._sync_error = exc
        finally:
            os.close(fd)

    def sync(self) -> None:
        """Make everything appended so far survive a power loss (callable from any thread)."""
        with self._fd_lock:
            error, self._sync_error = self._sync_error, None
            if error is not None:
                raise error
            if self._fd is None:
                return  # closed after a failed append, and synced then
            fd = os.dup(self._fd)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def probe_space(self) -> None:
        """Raise OSError unless a write of some size succeeds in the log's folder now (for the
        writer to tell when a full disk has space again, without appending a record)."""
        path = self.folder / _PROBE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, bytes(_PROBE_BYTES))
                if self.durable:
                    os.fdatasync(fd)
            finally:
                os.close(fd)
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        self._close_fd()

    # -- reading and state (the loader thread) -------------------------------------------------

    def read(self, start: int, end: int) -> Iterator[Record]:
        """The intact records in [start, end); `start` must be a record boundary. Stretches
        that are not intact records are skipped (and reported once)."""
        segments = self._segments()
        for i, seg in enumerate(segments):
            following = segments[i + 1] if i + 1 < len(segments) else None
            if following is not None and following <= start:
                continue
            if seg >= end:
                return
            for record in self._scan(self._load(seg, following), start):
                if record.start >= end:
                    return
                yield record

    def state(self) -> State:
        try:
            raw = json.loads((self.folder / "state.json").read_text())
        except FileNotFoundError:
            segments = self._segments()
            return State(done=segments[0] if segments else 0)
        inserting = raw.get("inserting")
        return State(int(raw["done"]), (int(inserting[0]), int(inserting[1])) if inserting else None)

    def save_state(self, state: State) -> None:
        tmp = self.folder / "state.json.tmp"
        with open(tmp, "w") as f:
            json.dump({"done": state.done, "inserting": list(state.inserting) if state.inserting else None}, f)
            if self.durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, self.folder / "state.json")

    def trim(self, done: int) -> None:
        """Delete segments wholly before `done` (never the one being appended to)."""
        segments = self._segments()
        for seg, following in itertools.pairwise(segments):
            if following <= done and seg != self._segment_start:
                self._path(seg).unlink(missing_ok=True)

    # -- segments --------------------------------------------------------------------------------

    def _segments(self) -> list[int]:
        return sorted(int(p.name[: -len(_SUFFIX)]) for p in self.folder.glob("*" + _SUFFIX))

    def _path(self, start: int) -> Path:
        return self.folder / f"{start:020d}{_SUFFIX}"

    def _load(self, seg: int, following: int | None) -> _Segment:
        data = self._path(seg).read_bytes()
        kind, base = version(data)
        limit = len(data) if following is None else min(len(data), base + following - seg)
        return _Segment(seg, data, base, kind, limit)

    def _scan(self, segment: _Segment, start: int) -> Iterator[Record]:
        """The segment's intact records from position `start` on; its gaps are reported."""
        first = segment.base + max(start - segment.start, 0)
        if segment.kind == 2 and not segment.data.startswith(SEGMENT_HEADER) and start <= segment.start:
            self._report(segment, Gap(0, len(SEGMENT_HEADER), 0, False))  # its header is damaged
        items = (parse_v1 if segment.kind == 1 else parse)(segment.data, first, segment.limit)
        for item in items:
            if isinstance(item, Frame):
                yield Record(segment.position(item.offset), segment.position(item.offset + item.size), item.table, item.rows, item.count)
            else:
                self._report(segment, item)
        if segment.limit < len(segment.data):  # bytes behind the segment's end: a failed append
            self._report(segment, Gap(segment.limit, len(segment.data), 1, True))

    def _report(self, segment: _Segment, gap: Gap) -> None:
        """Quarantine, log and count a gap, once per process."""
        key = (segment.start, gap.offset)
        if key in self._reported:
            return
        self._reported.add(key)
        kind = "torn" if gap.torn else "damaged"
        size = gap.end - gap.offset
        kept = self._quarantine(segment, gap)
        where = f"segment {self._path(segment.start).name} at byte {gap.offset} (log position {segment.position(gap.offset)})"
        if gap.torn:
            what = f"a torn record of {size} bytes (a write cut short, never acknowledged)"
        else:
            what = f"{size} damaged bytes ({gap.records} record(s) at least; the intact records around them are kept)"
        log.error("write-ahead log: dropped %s in %s; %s", what, where, kept)
        if self._on_drop is not None:
            self._on_drop(kind, size, gap.records)

    def _quarantine(self, segment: _Segment, gap: Gap) -> str:
        folder = self.folder / QUARANTINE
        path = folder / f"{segment.start:020d}+{gap.offset}.bad"
        try:
            folder.mkdir(exist_ok=True)
            with open(path, "wb") as f:
                f.write(segment.data[gap.offset : gap.end])
                if self.durable:
                    f.flush()
                    os.fsync(f.fileno())
        except OSError as exc:
            return f"the bytes could not be copied to {path}: {exc}"
        return f"the bytes are kept in {path}"

    # -- opening ---------------------------------------------------------------------------------

    def _recover_end(self) -> int:
        """The end of the log: after the last intact record of the last segment (a torn or
        damaged tail is reported and cut off), and never before what state.json has seen.
        Only what is not loaded yet (from `done` on) is read: damage to rows already in
        ClickHouse costs nothing."""
        state = self.state() if (self.folder / "state.json").exists() else State()
        floor = max(state.done, state.inserting[1] if state.inserting else 0)
        segments = self._segments()
        if not segments:
            return floor
        last = self._load(segments[-1], None)
        begin = max(last.start, state.done)
        cut = last.base + begin - last.start
        if cut <= len(last.data):
            for record in self._scan(last, begin):
                cut = last.base + record.end - last.start
            if cut < len(last.data):
                with open(self._path(last.start), "r+b") as f:
                    f.truncate(cut)
        else:  # the segment ends before `done` (damage cut it short): all of it was loaded
            cut = len(last.data)
        self._last = (last, last.position(cut))
        return max(last.position(cut), floor)

    def _open_last(self) -> None:
        """Append to the last segment if it ends where the log does and has today's framing;
        else start a new one there (after an old-format segment, or when the log's end moved
        past a damaged tail that had been loaded already)."""
        if self._last is None:
            return  # no segment yet: the first append creates one
        last, file_end = self._last
        if last.data.startswith(SEGMENT_HEADER) and file_end == self.end:
            self._fd = os.open(self._path(last.start), os.O_WRONLY | os.O_APPEND)
            self._segment_start = last.start
        elif last.start == self.end:  # nothing intact in it (what it held is quarantined): start it afresh
            self._fd = self._create_segment(last.start)
            self._segment_start = last.start
        # else: the first append starts a new segment at self.end


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
