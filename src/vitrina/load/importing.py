"""`vitrina import`: events from files into a stream's table, through the same validation,
rejected rows and exactly-once inserts as the loaders (load/prepare.py, load/commit.py).

Exactly once: a file's batches are cut at fixed event counts, and batch i carries the insert
token `import:STREAM:SHA256:ROWS:i` (SHA256: the file's bytes on disk), so importing the same
file again, whole or after a crash halfway, inserts nothing twice: ClickHouse drops a block
whose token it has seen. Throttled to `rate` events per second, so a ClickHouse server that
also takes live intake keeps its insert latency.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vitrina.core import Sink
from vitrina.intake.validate import StreamValidator
from vitrina.load.commit import Batch, Committer
from vitrina.load.files import EventFile
from vitrina.load.prepare import prepare
from vitrina.streams.declare import Stream

BATCH_ROWS = 50_000
DEFAULT_RATE = 200_000  # events per second; 0: as fast as the warehouse takes them

# progress(events read so far, bytes of the file read so far)
Progress = Callable[[int, int], None]


@dataclass
class Imported:
    path: Path
    format: str = ""
    compression: str = ""
    events: int = 0  # read from the file
    stored: int = 0  # valid, handed to the stream's table (on a repeated import ClickHouse drops them)
    rejected: int = 0  # into `rejected`, each with its reason
    seconds: float = 0.0


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class Throttle:
    """Pauses so that events go at `rate` per second on average (0: no limit)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.start = clock()
        self.done = 0

    def passed(self, events: int) -> None:
        self.done += events
        if self.rate > 0:
            ahead = self.start + self.done / self.rate - self.clock()
            if ahead > 0:
                self.sleep(ahead)


class Importer:
    def __init__(self, stream: Stream, sink: Sink, batch_rows: int = BATCH_ROWS, rate: float = DEFAULT_RATE) -> None:
        self.stream = stream
        self.validator = StreamValidator(stream)
        self.committer = Committer(sink)
        self.batch_rows = batch_rows
        self.throttle = Throttle(rate)

    def run(self, path: Path, progress: Progress | None = None) -> Imported:
        started = time.perf_counter()
        source = EventFile(path, self.stream)
        result = Imported(path, compression=source.compression)
        digest = file_digest(path)
        # Times missing from an event: the file's modification time, the same on every import.
        arrival_ns = path.stat().st_mtime_ns
        for index, values in enumerate(source.batches(self.batch_rows)):
            first = result.events
            token = f"import:{self.stream.name}:{digest}:{self.batch_rows}:{index}"
            batch = Batch(self.stream.name, token, source="import")
            where = lambda i, f=first: f"{path.name}#{f + i + 1}"  # noqa: E731 - the event's number in its file
            checked = prepare(batch, self.validator, values, [False] * len(values), where, arrival_ns)
            stored = self.committer.commit(checked)
            result.events += len(values)
            result.stored += stored.count
            result.rejected += stored.dead_count
            if progress is not None:
                progress(result.events, source.read_bytes)
            self.throttle.passed(len(values))
        result.format = getattr(source, "format", "empty")
        result.seconds = time.perf_counter() - started
        return result
