"""The write-ahead log's bytes: how a segment and its records are framed, and how a reader
finds every intact record in a segment that is damaged or was cut short.

A segment (version 2) starts with SEGMENT_HEADER. Each record is

    magic (4 bytes: 0xFE 0xED 0x57 0x4C) | body length | row count | table name length |
    CRC-32 of the body | CRC-32 of the 18 header bytes before it |
    body: table name, JSONEachRow rows

(integers little-endian: u32, u32, u16, u32, u32; a 22-byte header). The magic starts with
bytes that never occur in UTF-8, so it never occurs in a body (JSON text); the header's own
CRC tells a genuine header from damaged bytes, so its length can be trusted. A reader that
meets bytes that are not an intact record scans forward to the next magic that starts an
intact record and carries on from there: one bad record costs that record only.

Segments written before this framing (version 1: no segment header; a record is body
length, CRC-32 of the body, row count, table name length, then the body) are read with the
old parser, which can only stop at the first bad record of a segment.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

SEGMENT_HEADER = b"VITRINA-WAL\x00" + struct.pack("<HH", 2, 0)  # magic, version, reserved
MAGIC = b"\xfe\xedWL"
_HEAD = struct.Struct("<4sIIHI")  # magic, body length, rows, len(table), crc32(body)
_HEAD_CRC = struct.Struct("<I")  # crc32 of the _HEAD bytes
HEADER_SIZE = _HEAD.size + _HEAD_CRC.size
_V1_HEAD = struct.Struct("<IIIH")  # body length, crc32(body), rows, len(table)


@dataclass(frozen=True)
class Frame:
    """An intact record at data[offset : offset + size]."""

    offset: int
    size: int
    table: str
    rows: bytes
    count: int


@dataclass(frozen=True)
class Gap:
    """Bytes at data[offset:end] that are no intact record. `torn`: the start of a record cut
    short by a crash or a failed write (never acknowledged); otherwise damage."""

    offset: int
    end: int
    records: int  # how many records the bytes held, at least (headers still recognisable)
    torn: bool


def record_head(name: bytes, rows: bytes, count: int) -> bytes:
    """A record's bytes up to its rows (header and table name); the record is this + rows."""
    head = _HEAD.pack(MAGIC, len(name) + len(rows), count, len(name), zlib.crc32(rows, zlib.crc32(name)))
    return head + _HEAD_CRC.pack(zlib.crc32(head)) + name


def version(data: bytes) -> tuple[int, int]:
    """(format version, offset of the first record); version 0: an empty segment, or one
    whose header was cut short (nothing in it was ever acknowledged). A segment is version 1
    only if it starts with an intact version-1 record: one whose own header is damaged is
    still read as version 2 (the caller reports the damaged header)."""
    if data.startswith(SEGMENT_HEADER):
        return 2, len(SEGMENT_HEADER)
    if len(data) < len(SEGMENT_HEADER) and SEGMENT_HEADER.startswith(data):
        return 0, len(data)
    if isinstance(next(parse_v1(data, 0, len(data)), None), Frame):
        return 1, 0
    return 2, len(SEGMENT_HEADER)


def parse(data: bytes, offset: int, limit: int) -> Iterator[Frame | Gap]:
    """Intact records and the gaps between them in data[offset:limit] (version 2)."""
    while offset < limit:
        frame = _frame_at(data, offset, limit)
        if frame is not None:
            yield frame
            offset += frame.size
            continue
        following = _next_frame(data, offset + 1, limit)
        end = limit if following is None else following
        yield Gap(offset, end, _records_in(data, offset, end), _torn(data, offset, end, limit))
        offset = end


def parse_v1(data: bytes, offset: int, limit: int) -> Iterator[Frame | Gap]:
    """Version 1: intact records up to the first bad one; the rest of the segment is a gap."""
    while offset < limit:
        if offset + _V1_HEAD.size > limit:
            yield Gap(offset, limit, 1, True)
            return
        length, crc, count, name_len = _V1_HEAD.unpack_from(data, offset)
        start, end = offset + _V1_HEAD.size, offset + _V1_HEAD.size + length
        if end > limit:
            yield Gap(offset, limit, 1, True)
            return
        body = data[start:end]
        if zlib.crc32(body) != crc:
            yield Gap(offset, limit, 1, False)
            return
        yield Frame(offset, end - offset, body[:name_len].decode(), body[name_len:], count)
        offset = end


def _header_at(data: bytes, offset: int, limit: int) -> tuple[int, int, int, int] | None:
    """(body length, rows, len(table), crc32(body)) of a genuine header at offset, else None."""
    if offset + HEADER_SIZE > limit or not data.startswith(MAGIC, offset):
        return None
    _, length, count, name_len, body_crc = _HEAD.unpack_from(data, offset)
    (head_crc,) = _HEAD_CRC.unpack_from(data, offset + _HEAD.size)
    if zlib.crc32(data[offset : offset + _HEAD.size]) != head_crc:
        return None
    return length, count, name_len, body_crc


def _frame_at(data: bytes, offset: int, limit: int) -> Frame | None:
    head = _header_at(data, offset, limit)
    if head is None:
        return None
    length, count, name_len, body_crc = head
    start = offset + HEADER_SIZE
    if start + length > limit or name_len > length:
        return None
    body = data[start : start + length]
    if zlib.crc32(body) != body_crc:
        return None
    return Frame(offset, HEADER_SIZE + length, body[:name_len].decode(errors="replace"), body[name_len:], count)


def _next_frame(data: bytes, offset: int, limit: int) -> int | None:
    """The offset of the next intact record at or after `offset`."""
    while True:
        found = data.find(MAGIC, offset, limit)
        if found < 0:
            return None
        if _frame_at(data, found, limit) is not None:
            return found
        offset = found + 1


def _records_in(data: bytes, offset: int, end: int) -> int:
    """Records a gap held, at least: the genuine headers in it, plus one if its first header
    is not recognisable (the damage hit it)."""
    found = 0 if _header_at(data, offset, len(data)) is not None else 1
    at = data.find(MAGIC, offset, end)
    while at >= 0:
        if _header_at(data, at, len(data)) is not None:
            found += 1
        at = data.find(MAGIC, at + 1, end)
    return max(found, 1)


def _torn(data: bytes, offset: int, end: int, limit: int) -> bool:
    """A record whose header is genuine but whose body runs past the gap (into the next
    record, or past the end of the segment), or the start of a header at the very end: a
    record cut short."""
    head = _header_at(data, offset, len(data))
    if head is not None:
        return offset + HEADER_SIZE + head[0] > end
    left = data[offset:end]
    return end == limit and len(left) < HEADER_SIZE and MAGIC.startswith(left[: len(MAGIC)])
