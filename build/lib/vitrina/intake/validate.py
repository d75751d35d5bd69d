"""Per-stream validation: request bytes in, JSONEachRow rows and rejected items out.

msgspec decodes straight into a struct generated from the declaration (fast path: the whole
body at once). Only when that fails is the body re-read item by item, so that one bad event
is rejected alone with its index, field and reason while the others are stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from vitrina.streams.declare import Stream

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_NAMED = re.compile(r"field `([^`]+)`")
_INDEX = re.compile(r"^\[(\d+)\]")


@dataclass(frozen=True)
class Problem:
    index: int | None  # position in the batch (None for a single object)
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


@dataclass
class Checked:
    rows: bytes = b""
    count: int = 0
    problems: list[Problem] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)  # raw bytes of each rejected item
    total: int = 0


class BadBody(Exception):
    """The body as a whole cannot be read (400): malformed JSON, not objects, ..."""


def explain(err: msgspec.ValidationError | msgspec.DecodeError, index: int | None) -> Problem:
    m = _AT.match(str(err))
    assert m is not None
    msg, path = m.group("msg"), m.group("path") or ""
    ix = _INDEX.match(path)
    if ix:
        index = int(ix.group(1)) if index is None else index
        path = path[ix.end() :]
    name = path.lstrip(".").split(".")[0].split("[")[0] or None
    if name is None:
        named = _NAMED.search(msg)
        name = named.group(1) if named else None
    return Problem(index, name, msg)


class StreamValidator:
    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        spec: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for f in stream.fields:
            typ = f.msgspec_type()
            if f.required:
                spec.append((f.name, typ))
            else:
                spec.append((f.name, typ, f.msgspec_default()))
        self.item_type = msgspec.defstruct(f"{stream.name}_event", spec, kw_only=True, forbid_unknown_fields=stream.strict)
        self._one = msgspec.json.Decoder(self.item_type)
        self._many = msgspec.json.Decoder(list[self.item_type])  # type: ignore[name-defined]
        self._raw_many = msgspec.json.Decoder(list[msgspec.Raw])
        self._encoder = msgspec.json.Encoder()
        self._norms = [(f.name, fn) for f in stream.fields if (fn := f.normaliser()) is not None]

    def json_schema(self) -> dict[str, Any]:
        return msgspec.json.schema(self.item_type)

    # -- entry points -------------------------------------------------------------------------

    def check_json(self, body: bytes, arrival_ns: int) -> Checked:
        """A JSON object or an array of objects."""
        head = body.lstrip()[:1]
        if head == b"{":
            try:
                item = self._one.decode(body)
            except msgspec.ValidationError as err:
                return self._rejected_single(body, explain(err, None))
            except msgspec.DecodeError as err:
                raise BadBody(f"malformed JSON: {err}") from None
            return self._finish([item], [None], arrival_ns, 1)
        if head == b"[":
            try:
                items = self._many.decode(body)
            except msgspec.ValidationError:
                return self._item_by_item(self._split_array(body), arrival_ns)
            except msgspec.DecodeError as err:
                raise BadBody(f"malformed JSON: {err}") from None
            return self._finish(items, list(range(len(items))), arrival_ns, len(items))
        if not head:
            raise BadBody("empty body: send a JSON object, an array of objects, or NDJSON")
        raise BadBody("the body must be a JSON object, an array of objects, or NDJSON lines")

    def check_ndjson(self, body: bytes, arrival_ns: int) -> Checked:
        """One JSON object per line; a malformed line is one rejected item, not a bad body."""
        lines = [ln for ln in body.split(b"\n") if ln.strip()]
        return self._item_by_item(lines, arrival_ns)

    # -- internals ------------------------------------------------------------------------------

    def _split_array(self, body: bytes) -> list[bytes]:
        try:
            return [bytes(r) for r in self._raw_many.decode(body)]
        except msgspec.DecodeError as err:
            raise BadBody(f"malformed JSON: {err}") from None

    def _item_by_item(self, raws: list[bytes], arrival_ns: int) -> Checked:
        good: list[Any] = []
        where: list[int | None] = []
        bad: list[tuple[Problem, bytes]] = []
        for i, raw in enumerate(raws):
            try:
                good.append(self._one.decode(raw))
                where.append(i)
            except (msgspec.ValidationError, msgspec.DecodeError) as err:
                # ValidationError is a DecodeError subclass: a valid JSON item of the wrong shape.
                if isinstance(err, msgspec.ValidationError):
                    problem = explain(err, i)
                    problem = Problem(i, problem.field, problem.message)
                else:
                    problem = Problem(i, None, f"malformed JSON: {err}")
                bad.append((problem, raw))
        out = self._finish(good, where, arrival_ns, len(raws))
        for problem, raw in bad:
            out.problems.append(problem)
            out.raws.append(raw)
        out.problems.sort(key=lambda p: p.index or 0)
        return out

    def _rejected_single(self, raw: bytes, problem: Problem) -> Checked:
        return Checked(problems=[problem], raws=[raw], total=1)

    def _finish(self, items: list[Any], where: list[int | None], arrival_ns: int, total: int) -> Checked:
        out = Checked(total=total)
        if self._norms:
            kept = []
            for item, index in zip(items, where, strict=False):
                try:
                    for name, fn in self._norms:
                        setattr(item, name, fn(getattr(item, name), arrival_ns))
                except (ValueError, TypeError) as exc:
                    out.problems.append(Problem(index, name, str(exc)))
                    out.raws.append(self._encoder.encode(item))
                    continue
                kept.append(item)
            items = kept
        out.count = len(items)
        out.rows = self._encoder.encode_lines(items) if items else b""
        return out
