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

from vitrina.intake.jsonsplit import NotAnArray, split_array
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


class Malformed(Problem):
    """An item that is not readable JSON at all (a whole single-object body of it is a 400)."""


# msgspec recurses per nesting level and stops at the interpreter's recursion limit (about a
# thousand levels, less what the server's own call stack uses).
TOO_DEEP = "nested too deeply (the limit is about 1,000 levels of arrays and objects)"


class StreamValidator:
    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.item_type = self._struct(wide=False)
        self._one = msgspec.json.Decoder(self.item_type)
        self._many = msgspec.json.Decoder(list[self.item_type])  # type: ignore[name-defined]
        # Integers beyond INT64_MAX (UInt64 columns) fail the fast types; such items are read
        # again with the wide type and checked against their column here.
        self._overflow = [(f.name, check) for f in stream.fields if (check := f.overflow()) is not None]
        self._one_wide = msgspec.json.Decoder(self._struct(wide=True)) if self._overflow else None
        self._raw_many = msgspec.json.Decoder(list[msgspec.Raw])
        self._raw_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
        self._encoder = msgspec.json.Encoder()
        self._norms = [(f.name, fn) for f in stream.fields if (fn := f.normaliser()) is not None]

    def _struct(self, wide: bool) -> Any:
        spec: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for f in self.stream.fields:
            typ = f.msgspec_type(wide)
            spec.append((f.name, typ) if f.required else (f.name, typ, f.msgspec_default()))
        name = f"{self.stream.name}_event" + ("_wide" if wide else "")
        return msgspec.defstruct(name, spec, kw_only=True, forbid_unknown_fields=self.stream.strict)

    # -- entry points -------------------------------------------------------------------------

    def check_json(self, body: bytes, arrival_ns: int) -> Checked:
        """A JSON object or an array of objects."""
        head = body.lstrip()[:1]
        if head == b"{":
            item = self._decode_one(body, None)
            if isinstance(item, Malformed):
                raise BadBody(item.message)
            if isinstance(item, Problem):
                return self._rejected_single(body, item)
            return self._finish([item], [None], arrival_ns, 1)
        if head == b"[":
            try:
                items = self._many.decode(body)
            except (msgspec.ValidationError, UnicodeDecodeError, RecursionError):
                # ValidationError first: it is a DecodeError subclass (valid JSON, wrong shape)
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

    def _decode_one(self, raw: bytes, index: int | None) -> Any:
        """The decoded item, or the Problem that stops it."""
        try:
            return self._one.decode(raw)
        except msgspec.ValidationError as err:
            if self._one_wide is None:
                return explain(err, index)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
            return self._unreadable(err, raw, index)
        return self._decode_wide(raw, index)

    def _decode_wide(self, raw: bytes, index: int | None) -> Any:
        assert self._one_wide is not None
        try:
            item = self._one_wide.decode(raw)
        except msgspec.ValidationError as err:
            return explain(err, index)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
            return self._unreadable(err, raw, index)
        for name, check in self._overflow:
            why = check(getattr(item, name))
            if why is not None:
                return Problem(index, name, why)
        return item

    def _unreadable(self, err: Exception, raw: bytes, index: int | None) -> Problem:
        if isinstance(err, RecursionError):
            return Problem(index, None, TOO_DEEP)
        if isinstance(err, UnicodeDecodeError):
            return Problem(index, self._field_with_bad_utf8(raw), f"a string is not valid UTF-8 ({err.reason})")
        return Malformed(index, None, f"malformed JSON: {err}")

    def _field_with_bad_utf8(self, raw: bytes) -> str | None:
        """Which field holds the invalid UTF-8, when the keys themselves are readable."""
        try:
            fields = self._raw_fields.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return None
        for name, value in fields.items():
            try:
                bytes(value).decode()
            except UnicodeDecodeError:
                return name
        return None

    def _split_array(self, body: bytes) -> list[bytes]:
        try:
            return [bytes(r) for r in self._raw_many.decode(body)]
        except RecursionError:
            pass
        except msgspec.DecodeError as err:
            raise BadBody(f"malformed JSON: {err}") from None
        try:
            return split_array(body)
        except NotAnArray as err:
            raise BadBody(f"malformed JSON: {err}") from None

    def _item_by_item(self, raws: list[bytes], arrival_ns: int) -> Checked:
        good: list[Any] = []
        where: list[int | None] = []
        bad: list[tuple[Problem, bytes]] = []
        for i, raw in enumerate(raws):
            item = self._decode_one(raw, i)
            if isinstance(item, Problem):
                bad.append((Problem(i, item.field, item.message), raw))
            else:
                good.append(item)
                where.append(i)
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
