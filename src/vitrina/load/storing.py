"""Inserting one batch exactly once, whatever fails on the way (every loader path uses it).

A transient failure (load/failures.py) is retried, under the same deduplication token, until
ClickHouse takes the rows: an insert cancelled after ClickHouse stored some of it (the raw
part of one partition, or the raw part but not yet a view's) is completed by the retry and
stored nowhere twice, because the raw table and, with
`deduplicate_blocks_in_dependent_materialized_views`, each view drop the blocks they already
have (tests/load/test_killed_inserts.py kills inserts in a loop to prove it).

Only a refusal (ClickHouse refused the rows for their data) leads to `rejected`. The refused
rows are found by halving against a copy of the table with the Null engine, which stores
nothing and feeds no view: splitting the real insert into halves under new tokens would
store again whatever an earlier attempt of the whole had stored. The remaining rows are then
inserted under the batch's own token; a refusal raised by the input format stores nothing
(vitrina's inserts are far below ClickHouse's one-block squashing thresholds, about a
million rows or 256 MiB), so the token is still unused. A refusal the copy does not
reproduce comes from a view: nothing can be isolated, the batch is retried until an operator
fixes the view, and the log says so at ERROR.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from vitrina.load.failures import describe, is_refusal
from vitrina.load.health import StorageHealth
from vitrina.warehouse.client import Warehouse

log = logging.getLogger(__name__)

# insert(table, jsoneachrow_bytes, dedup_token); raises on failure.
InsertFn = Callable[[str, bytes, str], None]
Stopping = Callable[[], bool]
CHECK_PREFIX = "_vitrina_check_"
_FIRST_DELAY_S = 0.05
_MAX_DELAY_S = 2.0


class Checker(Protocol):
    """Parses and converts rows as an insert into `table` would, storing nothing; raises what
    the insert would raise for them. prepare() runs before each search, finish() after it."""

    def prepare(self, table: str) -> None: ...

    def __call__(self, table: str, rows: bytes) -> None: ...

    def finish(self, table: str) -> None: ...


@dataclass(frozen=True)
class Refused:
    index: int  # the row's line number in the batch
    reason: str
    row: bytes  # without its newline


class Stopped(Exception):
    """The loader is stopping; the batch is left for the next run (same range, same token)."""


class Backoff:
    def __init__(self, first: float = _FIRST_DELAY_S) -> None:
        self.delay = first

    def wait(self, stopping: Stopping) -> None:
        if stopping():
            raise Stopped()
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, _MAX_DELAY_S)


@dataclass
class BatchInserter:
    """Stores batches for one loader; `check` finds refused rows (None: none can be found,
    a refused batch is retried until the table takes it)."""

    insert: InsertFn
    check: Checker | None = None
    health: StorageHealth | None = None

    def store(
        self, table: str, rows: bytes, token: str, stopping: Stopping = lambda: False, groups: Callable[[], list[int]] | None = None
    ) -> list[Refused]:
        """Insert `rows` under `token` until ClickHouse has them; return the rows it refused
        (not stored). `groups()`: the rows come in groups of these many lines, stored or left
        out whole (a request's rows); asked only when rows are refused. Raises Stopped if `stopping()` turns true while it
        waits to retry."""
        while True:
            refusal = self.attempt(table, rows, token, stopping)
            if refusal is None:
                return []
            if self.check is not None:
                refused = self._find_refused(table, rows, stopping)
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
            Backoff(_MAX_DELAY_S).wait(stopping)

    def attempt(self, table: str, rows: bytes, token: str, stopping: Stopping = lambda: False) -> BaseException | None:
        """Insert until stored (None) or refused for the rows' data (the refusal); transient
        failures are retried under the same token. Raises Stopped."""
        backoff = Backoff()
        while True:
            try:
                self._insert(table, rows, token)
                return None
            except Exception as exc:
                if is_refusal(exc):
                    return exc
                self._failed(f"insert into {table}", exc)
                backoff.wait(stopping)

    def _insert(self, table: str, rows: bytes, token: str) -> None:
        self.insert(table, rows, token)
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
        backoff = Backoff()
        while True:
            try:
                self._insert(table, rest, token)
                return
            except Exception as exc:
                if is_refusal(exc):
                    log.error("%s: the rows left after the refused ones are refused too; retrying: %s", table, describe(exc))
                self._failed(f"insert into {table}", exc)
                backoff.wait(stopping)

    def _find_refused(self, table: str, rows: bytes, stopping: Stopping) -> list[Refused]:
        """Halving against the storage-less copy: each refused row with ClickHouse's reason."""
        check = self.check
        assert check is not None
        self._retry(f"preparing a copy of {table}", lambda: check.prepare(table), stopping)
        try:
            return self._halve(table, rows.splitlines(keepends=True), stopping)
        finally:
            with contextlib.suppress(Exception):  # left behind, it is remade by the next search
                check.finish(table)

    def _halve(self, table: str, lines: list[bytes], stopping: Stopping) -> list[Refused]:
        refused: list[Refused] = []
        todo = [(0, len(lines))]
        while todo:
            lo, hi = todo.pop()
            error = self._check(table, b"".join(lines[lo:hi]), stopping)
            if error is None:
                continue
            if hi - lo == 1:
                refused.append(Refused(lo, f"ClickHouse refused the row: {describe(error)}"[:1000], lines[lo].rstrip(b"\n")))
            else:
                middle = (lo + hi) // 2
                todo += [(middle, hi), (lo, middle)]
        return sorted(refused, key=lambda r: r.index)

    def _retry(self, what: str, fn: Callable[[], object], stopping: Stopping) -> None:
        backoff = Backoff()
        while True:
            try:
                fn()
                return
            except Exception as exc:
                self._failed(what, exc)
                backoff.wait(stopping)

    def _check(self, table: str, rows: bytes, stopping: Stopping) -> BaseException | None:
        """The refusal the rows meet, or None; transient failures are retried."""
        assert self.check is not None
        backoff = Backoff()
        while True:
            try:
                self.check(table, rows)
                return None
            except Exception as exc:
                if is_refusal(exc):
                    return exc
                self._failed(f"checking rows for {table}", exc)
                backoff.wait(stopping)


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


class NullCopy:
    """The Checker of a warehouse: inserts into a Null-engine copy of the table, made afresh
    for each search (an operator may have altered the table, the very reason rows are refused)."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def prepare(self, table: str) -> None:
        self.wh.command(self.wh.policy.null_copy(table, CHECK_PREFIX + table))

    def __call__(self, table: str, rows: bytes) -> None:
        self.wh.insert_json_rows(CHECK_PREFIX + table, rows)

    def finish(self, table: str) -> None:
        self.wh.command(self.wh.policy.drop_scratch(CHECK_PREFIX + table))
