"""Turning a batch of log messages into rows for one table and dead letters for `rejected`.

Shared by the Kafka and Redis loaders. Messages marked as vitrina's validated rows are joined
as they are; others (foreign topics) are validated with the stream's StreamValidator, and each
bad message becomes a row of `rejected` with its raw bytes, source coordinates and reason, so
it never blocks its partition.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from prometheus_client import Counter, Gauge

from vitrina.intake.validate import BadBody, Checked, Problem, StreamValidator
from vitrina.load.storing import Refused
from vitrina.selfmetrics import PipelineMetrics
from vitrina.streams.rejected import REJECTED_TABLE
from vitrina.streams.rejected import DeadLetter as _DeadLetter

RAW_KEEP_BYTES = 64 * 1024
# Fault injection for tests: the process dies right after this many inserts, before their
# offsets are committed (or entries acknowledged): the window exactly-once must cover.
_EXIT_AFTER = int(os.environ.get("VITRINA_FAULT_EXIT_AFTER_INSERTS", "0") or 0)
_inserts = 0
_inserts_lock = threading.Lock()


def inserted() -> None:
    """Call after a batch's insert, before its commit."""
    global _inserts
    if not _EXIT_AFTER:
        return
    with _inserts_lock:
        _inserts += 1
        if _inserts >= _EXIT_AFTER:
            os._exit(137)


_encoder = msgspec.json.Encoder()


def dead_letters(stream: str, source: str, items: list[tuple[str, str, bytes]], key: str = "") -> bytes:
    """JSONEachRow rows of the rejected table for (position, reason, raw) items sent with `key`."""
    return _encoder.encode_lines([_DeadLetter(stream, source, position, reason, _raw(raw), key) for position, reason, raw in items])


@dataclass
class Prepared:
    rows: bytes = b""
    count: int = 0
    dead: bytes = b""  # JSONEachRow rows of the rejected table
    dead_count: int = 0


def with_refused(prepared: Prepared, stream: str, source: str, token: str, refused: list[Refused]) -> Prepared:
    """The batch once ClickHouse refused some of its rows for their data: those are not
    stored but kept as dead letters, positioned by their line in the batch's insert."""
    if not refused:
        return prepared
    more = dead_letters(stream, source, [(f"{token}#{r.index}", r.reason, r.row) for r in refused])
    return Prepared(prepared.rows, prepared.count - len(refused), prepared.dead + more, prepared.dead_count + len(refused))


def problem_reason(p: Problem) -> str:
    return f"{p.field}: {p.message}" if p.field else p.message


def prepare(
    stream: str,
    validator: StreamValidator | None,
    values: list[bytes],
    trusted: list[bool],
    position: Callable[[int], str],
    source: str,
    arrival_ns: int,
) -> Prepared:
    """`values[i]` is one message; `position(i)` its coordinates (topic/partition/offset)."""
    out = Prepared()
    parts: list[bytes] = []
    check: list[int] = []  # indexes of messages to validate
    for i, (value, ok) in enumerate(zip(values, trusted, strict=True)):
        if ok:
            parts.append(value)
        else:
            check.append(i)
    out.count = len(parts)
    dead: list[_DeadLetter] = []
    if check and (validator is None or stream == REJECTED_TABLE):
        # a foreign message on the rejected topic: keep it, as a dead letter of its own
        for i in check:
            dead.append(_DeadLetter(stream, source, position(i), "not a vitrina row", _raw(values[i])))
    elif check:
        assert validator is not None
        checked, where = _validate(validator, [values[i] for i in check], arrival_ns)
        if checked.count:
            parts.append(checked.rows.rstrip(b"\n"))
            out.count += checked.count
        for p in checked.problems:
            i = check[where[p.index or 0]]
            dead.append(_DeadLetter(stream, source, position(i), problem_reason(p), _raw(values[i])))
    if parts:
        out.rows = b"\n".join(parts) + b"\n"
    if dead:
        out.dead = _encoder.encode_lines(dead)
        out.dead_count = len(dead)
    return out


def _raw(value: bytes) -> str:
    return value[:RAW_KEEP_BYTES].decode("utf-8", "replace")


def _validate(validator: StreamValidator, values: list[bytes], arrival_ns: int) -> tuple[Checked, list[int]]:
    """Validate messages; problems' indexes are positions in the returned index list, which
    maps them back to messages. Fast path: all messages as one JSON array (one decode)."""
    if all(v[:1] == b"{" for v in values):
        try:
            checked = validator.check_json(b"[" + b",".join(values) + b"]", arrival_ns)
        except BadBody:
            checked = None
        if checked is not None and checked.total == len(values):
            return checked, list(range(len(values)))
    # One message at a time: a malformed one is one dead letter; an array or JSONEachRow
    # lines are many rows (a bad row of them is a dead letter of its own, same position).
    out = Checked()
    rows: list[bytes] = []
    where: list[int] = []
    for i, value in enumerate(values):
        try:
            c = validator.check_json(value, arrival_ns)
        except BadBody as exc:
            if b"\n" in value.strip():  # JSONEachRow: several rows in one message
                c = validator.check_ndjson(value, arrival_ns)
            else:
                c = Checked(problems=[Problem(None, None, str(exc))], raws=[value], total=1)
        if c.count:
            rows.append(c.rows)
            out.count += c.count
        for p in c.problems:
            out.problems.append(Problem(len(where), p.field, p.message))
            where.append(i)
    out.rows = b"".join(rows)
    return out, where


class LoaderMetrics:
    """The loaders' own series, added to the pipeline's registry (GET /metrics)."""

    def __init__(self, metrics: PipelineMetrics) -> None:
        r = metrics.registry
        self.pipeline = metrics
        self.batches = Counter("vitrina_loader_batches", "Batches loaded from the log, per topic", ["topic"], registry=r)
        self.loaded = Counter("vitrina_loaded_events", "Events loaded from the log into ClickHouse, per stream", ["stream"], registry=r)
        self.dead = Counter("vitrina_loader_dead_letters", "Messages that failed validation, kept in rejected", ["topic"], registry=r)
        self.lag = Gauge(
            "vitrina_loader_lag", "Messages not yet loaded, per partition (from what was consumed)", ["topic", "partition"], registry=r
        )

    def loaded_batch(self, topic: str, table: str, prepared: Prepared, seconds: float) -> None:
        self.batches.labels(topic).inc()
        if prepared.count:
            self.loaded.labels(table).inc(prepared.count)
            self.pipeline.observe_insert(table, prepared.count, seconds)
        if prepared.dead_count:
            self.dead.labels(topic).inc(prepared.dead_count)


def retry_forever(what: str, fn: Callable[[], None], stopping: Callable[[], bool], log_warning: Callable[..., None]) -> bool:
    """Run `fn` until it succeeds (the warehouse may be down for a while); False if stopping."""
    delay = 0.05
    while True:
        try:
            fn()
            return True
        except Exception as exc:  # the warehouse's errors are many; all are retried
            log_warning("%s failed, retrying: %s", what, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            if stopping():
                return False
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
