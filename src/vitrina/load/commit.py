"""The commit path every loader shares: a batch read from a log (the write-ahead log, a Kafka
partition, a Redis stream) and validated goes through the one sink seam under the batch's
token, then its dead letters; only after that does the loader commit its position (the log's
`done` mark, the offsets, the XACK).

    batch = Batch(table, token, rows, count, source=..., dead=...)    # the loader: read, validate
    stored = committer.commit(batch, stopping)                          # here: insert, dead letters
    ... the loader commits its position ...

Rows the sink refuses for their data are not stored: they become dead letters, kept in
`rejected` with the sink's reason and positioned by their line in the insert
(`TOKEN#LINE`), under a token of their own (the batch's token + `dead_suffix`), so a replay
of the batch does exactly the same. The same holds for a batch of the rejected table itself
(the intake's bad items): only the dead letters' own insert is never split again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from vitrina.core import REJECTED_TABLE, ObserveFn, Sink
from vitrina.health import StorageHealth
from vitrina.load.dead_letters import dead_letters
from vitrina.load.retry import Stopping, never
from vitrina.load.storing import BatchInserter, Refused


@dataclass(frozen=True)
class Batch:
    """One table's rows of one loader batch, and its dead letters."""

    table: str
    token: str  # the insert's deduplication token, derived from the batch's place in its log
    rows: bytes = b""  # JSONEachRow
    count: int = 0
    source: str = ""  # where it was read: "wal", "kafka", "redis" (the dead letters say so)
    dead: bytes = b""  # rows of the rejected table: messages that failed validation
    dead_count: int = 0
    dead_suffix: str = ":rejected"  # the dead letters' token: token + this


def with_refused(batch: Batch, refused: list[Refused]) -> Batch:
    """The batch once the sink refused some of its rows for their data: those are not stored
    but kept as dead letters, positioned by their line in the batch's insert."""
    if not refused:
        return batch
    more = dead_letters(batch.table, batch.source, [(f"{batch.token}#{r.index}", r.reason, r.row) for r in refused])
    return replace(batch, count=batch.count - len(refused), dead=batch.dead + more, dead_count=batch.dead_count + len(refused))


class Committer:
    def __init__(self, sink: Sink, health: StorageHealth | None = None, observe: ObserveFn | None = None) -> None:
        self.rows = BatchInserter(sink, health)
        self.dead = BatchInserter(sink, health, search=False)  # dead letters: never split again
        self.observe = observe

    def commit(self, batch: Batch, stopping: Stopping = never) -> Batch:
        """Store the batch's rows, then its dead letters; return the batch as stored (without
        the refused rows, with their dead letters). Raises Stopped if the loader stops while
        a step waits to be retried: nothing is committed, the next run does it all again."""
        if batch.count:
            started = time.perf_counter()
            batch = with_refused(batch, self.rows.store(batch.table, batch.rows, batch.token, stopping))
            self.observed(batch.table, batch.count, time.perf_counter() - started)
        if batch.dead_count:
            self.dead.store(REJECTED_TABLE, batch.dead, batch.token + batch.dead_suffix, stopping)
        return batch

    def attempt(self, batch: Batch, stopping: Stopping = never) -> BaseException | None:
        """Insert the batch's rows as they are, without searching for refused rows: None once
        stored, or the sink's refusal (nothing stored: check the rows, then commit())."""
        started = time.perf_counter()
        refusal = self.rows.attempt(batch.table, batch.rows, batch.token, stopping)
        if refusal is None:
            self.observed(batch.table, batch.count, time.perf_counter() - started)
        return refusal

    def observed(self, table: str, rows: int, seconds: float) -> None:
        if self.observe is not None:
            self.observe(table, rows, seconds)
