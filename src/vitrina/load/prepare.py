"""Turning a batch of log messages into rows for one table and dead letters for `rejected`.

Shared by the Kafka and Redis loaders. Messages marked as vitrina's validated rows are joined
as they are; others (foreign topics) are validated with the stream's StreamValidator, and each
bad message becomes a row of `rejected` with its raw bytes, source coordinates and reason, so
it never blocks its partition.
"""

from __future__ import annotations

from collections.abc import Callable

from vitrina.core import REJECTED_TABLE
from vitrina.intake.validate import BadBody, Checked, Problem, StreamValidator
from vitrina.load.commit import Batch
from vitrina.load.dead_letters import encode, problem_reason, raw_text
from vitrina.streams.rejected import DeadLetter


def prepare(
    batch: Batch,
    validator: StreamValidator | None,
    values: list[bytes],
    trusted: list[bool],
    position: Callable[[int], str],
    arrival_ns: int,
) -> Batch:
    """`batch` (its table, token and source) with the rows and dead letters of `values`:
    `values[i]` is one message, `position(i)` its coordinates (topic/partition/offset)."""
    stream, source = batch.table, batch.source
    parts: list[bytes] = []
    check: list[int] = []  # indexes of messages to validate
    for i, (value, ok) in enumerate(zip(values, trusted, strict=True)):
        if ok:
            parts.append(value)
        else:
            check.append(i)
    count = len(parts)
    dead: list[DeadLetter] = []
    if check and (validator is None or stream == REJECTED_TABLE):
        # a foreign message on the rejected topic: keep it, as a dead letter of its own
        dead = [DeadLetter(stream, source, position(i), "not a vitrina row", raw_text(values[i])) for i in check]
    elif check:
        assert validator is not None
        # What the loader validates comes from a foreign writer: read as JSONEachRow read it.
        checked, where = _validate(validator.for_foreign(), [values[i] for i in check], arrival_ns)
        if checked.count:
            parts.append(checked.rows.rstrip(b"\n"))
            count += checked.count
        for p in checked.problems:
            i = check[where[p.index or 0]]
            dead.append(DeadLetter(stream, source, position(i), problem_reason(p), raw_text(values[i])))
    rows = b"\n".join(parts) + b"\n" if parts else b""
    return Batch(stream, batch.token, rows, count, source, encode(dead) if dead else b"", len(dead), batch.dead_suffix)


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
        c = _one(validator, value, arrival_ns)
        if c.count:
            rows.append(c.rows)
            out.count += c.count
        for p in c.problems:
            out.problems.append(Problem(len(where), p.field, p.message))
            where.append(i)
    out.rows = b"".join(rows)
    return out, where


def _one(validator: StreamValidator, value: bytes, arrival_ns: int) -> Checked:
    try:
        return validator.check_json(value, arrival_ns)
    except BadBody as exc:
        if b"\n" in value.strip():  # JSONEachRow: several rows in one message
            return validator.check_ndjson(value, arrival_ns)
        return Checked(problems=[Problem(None, None, str(exc))], raws=[value], total=1)
