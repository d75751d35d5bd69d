"""Reading a gzip request body: every member, within the size limit, and nothing after them.

A gzip file is a series of members (RFC 1952 2.2): a client that appends to a compressed file
sends several, and all of them are the body. Bytes after the last member that are not a
member are refused rather than ignored: they are data the client meant to send.
"""

from __future__ import annotations

import zlib

GZIP_MAGIC = b"\x1f\x8b"
# Each member costs a few microseconds of setup on the event loop: 500,000 empty ones (a
# 10 MiB body) took 2 s. Real clients send one, or a few appended files.
MAX_MEMBERS = 1000


class GzipError(ValueError):
    """Not gzip, truncated, or followed by something that is not a gzip member."""


class TooLarge(ValueError):
    """Over the limit once decompressed."""


def inflate(body: bytes, limit: int) -> bytes:
    """The concatenated members' data; GzipError or TooLarge otherwise."""
    view = memoryview(body)
    out: list[bytes] = []
    budget = limit
    offset = 0
    for _ in range(MAX_MEMBERS):
        offset, budget = _member(view, offset, budget, out)
        if offset == len(view):
            return out[0] if len(out) == 1 else b"".join(out)
        if view[offset : offset + 2] != GZIP_MAGIC:
            raise GzipError(f"{len(view) - offset} bytes after the gzip data are not a gzip member")
    raise GzipError(f"more than {MAX_MEMBERS} gzip members")


def _member(view: memoryview, offset: int, budget: int, out: list[bytes]) -> tuple[int, int]:
    """Inflate the member at `offset` into `out`; return where the next one starts and how
    many bytes of the limit are left.

    Input goes in growing pieces: zlib copies whatever input follows a member's end into
    `unused_data`, and handing it the whole rest for each member made 500,000 tiny members
    (a 10 MiB body) take minutes, not milliseconds."""
    inflater = zlib.decompressobj(wbits=31)
    step = 256
    pos = offset
    while not inflater.eof:
        if pos >= len(view):
            raise GzipError("the gzip body is truncated")
        piece = view[pos : pos + step]
        pos += len(piece)
        try:
            chunk = inflater.decompress(piece, budget + 1)
        except zlib.error as exc:
            raise GzipError(f"the body is not valid gzip: {exc}") from None
        budget -= len(chunk)
        if budget < 0:
            raise TooLarge("over the limit once decompressed")
        out.append(chunk)
        step = min(step * 2, 1 << 20)
    return pos - len(inflater.unused_data), budget
