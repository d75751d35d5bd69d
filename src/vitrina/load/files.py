"""Reading event files for `vitrina import`: JSON (an array), NDJSON, CSV or Parquet, plain or
gzip / xz / zstd compressed. Compression and format are told by the content (magic bytes, the
first character), never by the file name, so the site-events seed's `data/events.xz` is read
as it is.

Every format becomes the same thing: batches of events, each event one JSON object as bytes,
which the import validates like any other source (load/prepare.py). CSV cells are text; they
are turned into the JSON value the stream's field declares (a number for a uint field, the
object of a json field), since CSV has no types of its own.
"""

from __future__ import annotations

import csv
import gzip
import io
import lzma
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from vitrina.streams.declare import Stream

_GZIP, _XZ, _ZSTD, _PARQUET = b"\x1f\x8b", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"PAR1"
_READ = 1 << 20
_encode = msgspec.json.Encoder().encode


class UnreadableFile(Exception):
    """The file is none of the formats import takes (one line for the user)."""


class Counted(io.RawIOBase):
    """The file as read from disk, counting its bytes (the progress bar follows them)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.done += n or 0
        return n or 0


def compression(head: bytes) -> str:
    if head.startswith(_GZIP):
        return "gzip"
    if head.startswith(_XZ):
        return "xz"
    if head.startswith(_ZSTD):
        return "zstd"
    return "none"


def _decompressed(kind: str, raw: Any) -> Any:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw)
    if kind == "xz":
        return lzma.LZMAFile(raw)
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw


def _peek(stream: Any) -> bytes:
    return bytes(stream.peek(64)[:64])


def detect(head: bytes) -> str:
    """The format of decompressed content from its first bytes."""
    if head.startswith(_PARQUET):
        return "parquet"
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first == b"[":
        return "json"
    if first == b"{":
        return "ndjson"
    if not first:
        return "empty"
    return "csv"


class EventFile:
    """One file: what it holds, and its events in batches of `batch_rows`."""

    def __init__(self, path: Path, stream: Stream) -> None:
        self.path = path
        self.stream = stream
        self.size = path.stat().st_size
        with path.open("rb") as f:
            self.compression = compression(f.read(8))
        self.counted: Counted | None = None

    @property
    def read_bytes(self) -> int:
        return self.counted.done if self.counted is not None else 0

    def batches(self, batch_rows: int) -> Iterator[list[bytes]]:
        self.counted = Counted(self.path.open("rb"))
        try:
            raw: Any = io.BufferedReader(self.counted, _READ)
            content: Any = io.BufferedReader(_decompressed(self.compression, raw), _READ)
            self.format = detect(_peek(content))
            events = _READERS.get(self.format)
            if events is None:
                raise UnreadableFile(f"{self.path}: empty after decompression ({self.compression})")
            yield from _chunks(events(content, self.stream), batch_rows)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise UnreadableFile(f"{self.path}: cannot read it as {self.compression}: {exc}") from None
        finally:
            self.counted.raw.close()


def _chunks(events: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ndjson(content: IO[bytes], stream: Stream) -> Iterator[bytes]:
    for line in content:
        line = line.strip()
        if line:
            yield line


def _json_array(content: IO[bytes], stream: Stream) -> Iterator[bytes]:
    """A JSON array: each item as its own bytes (msgspec.Raw: no decode and encode again).
    A malformed array is one event, which validation rejects with its reason."""
    data = content.read()
    try:
        items = msgspec.json.decode(data, type=list[msgspec.Raw])
    except msgspec.DecodeError:
        yield data
        return
    for item in items:
        yield bytes(item)


def _csv(content: IO[bytes], stream: Stream) -> Iterator[bytes]:
    text = io.TextIOWrapper(content, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    convert = {f.name: _cell_converter(f.kind) for f in stream.fields}
    for row in reader:
        event: dict[str, Any] = {}
        for name, cell in row.items():
            if name is None or cell is None or cell == "":
                continue  # an empty cell: the field's default, or null
            event[name] = convert.get(name, _text)(cell)
        yield _encode(event)


def _text(cell: str) -> Any:
    return cell


def _number(cell: str) -> Any:
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell  # left as text: validation names the field


def _boolean(cell: str) -> Any:
    return {"true": True, "1": True, "false": False, "0": False}.get(cell.strip().lower(), cell)


def _json_cell(cell: str) -> Any:
    try:
        return msgspec.json.decode(cell)
    except msgspec.DecodeError:
        return cell


def _cell_converter(kind: str) -> Callable[[str], Any]:
    if kind in ("int", "uint", "float", "timestamp"):
        return _number
    if kind == "bool":
        return _boolean
    if kind == "json" or kind.startswith(("map_", "array_")):
        return _json_cell
    return _text


def _parquet(content: IO[bytes], stream: Stream) -> Iterator[bytes]:
    """Parquet needs to seek (its index is at the end): the decompressed file is held in
    memory when compressed, read in place when not."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(io.BytesIO(content.read()))
    for batch in table.iter_batches(batch_size=65_536):
        for row in batch.to_pylist():
            yield _encode({k: v for k, v in row.items() if v is not None})


_READERS: dict[str, Callable[[IO[bytes], Stream], Iterator[bytes]]] = {
    "ndjson": _ndjson,
    "json": _json_array,
    "csv": _csv,
    "parquet": _parquet,
}
