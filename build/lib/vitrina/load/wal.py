"""The write-ahead log behind `[writer] ack = "wal"`: a request is acknowledged once its rows
are appended (and fdatasync'd) here; ClickHouse gets them behind it, in larger inserts.

Why a log of our own: every chdb insert costs 9-18 ms of CPU whatever its size (the raw part
plus one part per materialized view, docs/PERFORMANCE.md), and a request answered only after
its insert waits for the insert already running plus its own. An append and an fdatasync cost
about 0.2 ms. No library offers a small embedded append-only log with this recovery contract,
hence the ~150 lines here.

Layout of DIR:
- `<position>.wal` segments, named by the log position (global byte offset) of their first
  record; a record is a header (body length, CRC-32 of the body, row count, table name length)
  and a body (table name, JSONEachRow rows).
- `state.json`: `done`, the position up to which everything is in ClickHouse, and `inserting`,
  the range being inserted (written before its inserts). After a crash the range is inserted
  again with the same deduplication tokens (`wal:START-END:TABLE`), so ClickHouse drops what
  it already has, in the raw tables and in their materialized views.

A torn record at the end (a crash in the middle of an append) was never acknowledged; opening
the log cuts it off. Appends come from one thread (the event loop's, load/wal_writer.py).
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_HEADER = struct.Struct("<IIIH")  # body length, crc32(body), rows, len(table)
_SUFFIX = ".wal"


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


class WriteAheadLog:
    def __init__(self, folder: Path, *, durable: bool = True, segment_bytes: int = 64 * 1024 * 1024) -> None:
        """append() writes (a crash of this process keeps what it wrote); sync() makes the
        appends survive a power loss too, and `durable` does the same for state and rotation."""
        self.folder = folder
        self.durable = durable
        self.segment_bytes = segment_bytes
        folder.mkdir(parents=True, exist_ok=True)
        self.end = self._recover_end()
        segments = self._segments()
        self._segment_start = segments[-1] if segments else self.end
        self._fd = self._open_segment(self._segment_start)
        self._fd_lock = threading.Lock()  # sync() in another thread must not see a closed fd

    # -- appending -----------------------------------------------------------------------------

    def append(self, items: list[tuple[str, bytes, int]]) -> list[Record]:
        """Append (table, rows, count) records in one write."""
        out: list[Record] = []
        parts: list[bytes] = []
        pos = self.end
        for table, rows, count in items:
            name = table.encode()
            body = name + rows
            parts.append(_HEADER.pack(len(body), zlib.crc32(body), count, len(name)))
            parts.append(body)
            end = pos + _HEADER.size + len(body)
            out.append(Record(pos, end, table, rows, count))
            pos = end
        view = memoryview(b"".join(parts))
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            # Nothing of this append is acknowledged; cut any part of it that was written, or
            # the next appends would follow a torn record that recovery stops at.
            os.ftruncate(self._fd, self.end - self._segment_start)
            raise
        self.end = pos
        if pos - self._segment_start >= self.segment_bytes:
            fd = self._open_segment(pos)
            with self._fd_lock:
                old, self._fd = self._fd, fd
                self._segment_start = pos
            if self.durable:
                os.fdatasync(old)  # what a concurrent sync() did not cover
            os.close(old)
        return out

    def sync(self) -> None:
        """Make everything appended so far survive a power loss (callable from any thread)."""
        with self._fd_lock:
            fd = os.dup(self._fd)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        os.close(self._fd)

    # -- reading and state (the loader thread) -------------------------------------------------

    def read(self, start: int, end: int) -> Iterator[Record]:
        """The records in [start, end); `start` must be a record boundary."""
        segments = self._segments()
        for i, seg in enumerate(segments):
            seg_end = segments[i + 1] if i + 1 < len(segments) else None
            if seg_end is not None and seg_end <= start:
                continue
            if seg >= end:
                return
            with open(self._path(seg), "rb") as f:
                f.seek(max(start - seg, 0))
                pos = max(start, seg)
                for record in _records(f.read(), pos):
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

    # -- files ---------------------------------------------------------------------------------

    def _segments(self) -> list[int]:
        return sorted(int(p.name[: -len(_SUFFIX)]) for p in self.folder.glob("*" + _SUFFIX))

    def _path(self, start: int) -> Path:
        return self.folder / f"{start:020d}{_SUFFIX}"

    def _open_segment(self, start: int) -> int:
        return os.open(self._path(start), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _recover_end(self) -> int:
        """The end of the last whole record; a torn tail is cut off."""
        segments = self._segments()
        if not segments:
            return self.state().done if (self.folder / "state.json").exists() else 0
        last = segments[-1]
        path = self._path(last)
        data = path.read_bytes()
        end = last
        for record in _records(data, last):
            end = record.end
        if end - last < len(data):
            with open(path, "r+b") as f:
                f.truncate(end - last)
        return end


def _records(data: bytes, pos: int) -> Iterator[Record]:
    """Whole, intact records from `data`, which starts at log position `pos`."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc, count, name_len = _HEADER.unpack_from(data, offset)
        body = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if len(body) < length or zlib.crc32(body) != crc:
            return
        size = _HEADER.size + length
        yield Record(pos, pos + size, body[:name_len].decode(), body[name_len:], count)
        pos += size
        offset += size
