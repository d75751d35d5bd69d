"""Inserting one batch exactly once, whatever fails on the way (every loader path uses it).

A transient failure (the sink decides: warehouse/failures.py for ClickHouse) is retried,
under the same deduplication token, until the sink takes the rows: an insert cancelled after
ClickHouse stored some of it (the raw part of one partition, or the raw part but not yet a
view's) is completed by the retry and stored nowhere twice, because the raw table and, with
`deduplicate_blocks_in_dependent_materialized_views`, each view drop the blocks they already
have (tests/load/test_killed_inserts.py kills inserts in a loop to prove it).

Only a refusal (the sink refused the rows for their data) leads to `rejected`. The refused
rows are found by halving against the sink's checker (for ClickHouse a copy of the table with
the Null engine, which stores nothing and feeds no view): splitting the real insert into
halves under new tokens would store again whatever an earlier attempt of the whole had
stored. The remaining rows are then inserted under the batch's own token; a refusal raised by
the input format stores nothing (vitrina's inserts are far below ClickHouse's one-block
squashing thresholds, about a million rows or 256 MiB), so the token is still unused. A
refusal the copy does not reproduce comes from a view: nothing can be isolated, the batch is
retried until an operator fixes the view, and the log says so at ERROR.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from vitrina.core import Checker, Sink, describe
from vitrina.health import StorageHealth
from vitrina.load.retry import MAX_DELAY_S, Backoff, Stopping, never, retry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refused:
    index: int  # the row's line number in the batch
    reason: str
    row: bytes  # without its newline


class BatchInserter:
    """Stores batches through a sink. With `search` the sink's checker finds refused rows;
    without it (or without a checker) a refused batch is retried until the sink takes it."""

    def __init__(self, sink: Sink, health: StorageHealth | None = None, *, search: bool = True) -> None:
        self.sink = sink
        self.check: Checker | None = sink.checker if search else None
        self.health = health

    def store(
        self, table: str, rows: bytes, token: str, stopping: Stopping = never, groups: Callable[[], list[int]] | None = None
    ) -> list[Refused]:
        """Insert `rows` under `token` until the sink has them; return the rows it refused
        (not stored). `groups()`: the rows come in groups of these many lines, stored or left
        out whole (a request's rows); asked only when rows are refused. Raises Stopped if
        `stopping()` turns true while it waits to retry."""
        while True:
            refusal = self.attempt(table, rows, token, stopping)
            if refusal is None:
                return []
            if self.check is not None:
                refused = self._find_refused(self.check, table, rows, stopping)
                if refused:
                    self._store_rest(table, rows, token, _left_out(refused, groups), stopping)
                    return refused
                log.error(
                    "%s: ClickHouse refuses rows for their data, but not in the table itself (a materialized view?); "
                    "retrying until it takes them: %s",
                    table,
                    describe(refusal),
                )
            else:
                log.error("%s: ClickHouse refuses rows for their data; retrying until it takes them: %s", table, describe(refusal))
            self._failed(f"insert into {table}", refusal)
            Backoff(MAX_DELAY_S).wait(stopping)

    def attempt(self, table: str, rows: bytes, token: str, stopping: Stopping = never) -> BaseException | None:
        """Insert until stored (None) or refused for the rows' data (the refusal); transient
        failures are retried under the same token. Raises Stopped."""
        return self._refusal_of(f"insert into {table}", lambda: self._insert(table, rows, token), stopping)

    def _refusal_of(self, what: str, step: Callable[[], None], stopping: Stopping) -> BaseException | None:
        """Run `step` until it succeeds (None) or the sink refuses its rows (the refusal)."""

        def once() -> BaseException | None:
            try:
                step()
            except Exception as exc:
                if self.sink.refuses(exc):
                    return exc
                raise
            return None

        return retry(what, once, stopping, self._failed)

    def _insert(self, table: str, rows: bytes, token: str) -> None:
        self.sink.insert(table, rows, token)
        if self.health is not None:
            self.health.insert_ok()

    def _failed(self, what: str, exc: BaseException) -> None:
        log.warning("%s failed, retrying under the same token: %s", what, describe(exc))
        if self.health is not None:
            self.health.insert_failed(describe(exc))

    def _store_rest(self, table: str, rows: bytes, token: str, bad: set[int], stopping: Stopping) -> None:
        lines = rows.splitlines(keepends=True)
        rest = b"".join(line for i, line in enumerate(lines) if i not in bad)
        log.warning("%s: ClickHouse refused rows; %d of %d are left out, the rest is stored", table, len(bad), len(lines))
        if not rest:
            return

        def failed(what: str, exc: BaseException) -> None:
            if self.sink.refuses(exc):
                log.error("%s: the rows left after the refused ones are refused too; retrying: %s", table, describe(exc))
            self._failed(what, exc)

        retry(f"insert into {table}", lambda: self._insert(table, rest, token), stopping, failed)

    def _find_refused(self, check: Checker, table: str, rows: bytes, stopping: Stopping) -> list[Refused]:
        """Halving against the storage-less copy: each refused row with ClickHouse's reason."""
        retry(f"preparing a copy of {table}", lambda: check.prepare(table), stopping, self._failed)
        try:
            return self._halve(check, table, rows.splitlines(keepends=True), stopping)
        finally:
            with contextlib.suppress(Exception):  # left behind, it is remade by the next search
                check.finish(table)

    def _halve(self, check: Checker, table: str, lines: list[bytes], stopping: Stopping) -> list[Refused]:
        refused: list[Refused] = []
        todo = [(0, len(lines))]
        while todo:
            lo, hi = todo.pop()
            error = self._refusal_of(f"checking rows for {table}", partial(check, table, b"".join(lines[lo:hi])), stopping)
            if error is None:
                continue
            if hi - lo == 1:
                refused.append(Refused(lo, f"ClickHouse refused the row: {describe(error)}"[:1000], lines[lo].rstrip(b"\n")))
            else:
                middle = (lo + hi) // 2
                todo += [(middle, hi), (lo, middle)]
        return sorted(refused, key=lambda r: r.index)


def _left_out(refused: list[Refused], groups: Callable[[], list[int]] | None) -> set[int]:
    """The lines to leave out: the refused ones, or every line of a group holding one."""
    bad = {r.index for r in refused}
    if groups is None:
        return bad
    out: set[int] = set()
    first = 0
    for size in groups():
        span = range(first, first + size)
        if any(i in bad for i in span):
            out.update(span)
        first += size
    return out
