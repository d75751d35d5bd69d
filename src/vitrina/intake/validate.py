"""Per-stream validation: request bytes in, JSONEachRow rows and rejected items out.

msgspec decodes straight into a struct generated from the declaration (fast path: the whole
body at once). Only when that fails is the body re-read item by item, so that one bad event
is rejected alone with its index, every bad field and the reasons while the others are stored.

A `foreign` validator reads a foreign source (a seed's Kafka topic or Redis keys) the way the
seeds' ClickHouse read it through JSONEachRow: numeric strings into numbers, a bool into an
integer as 0 / 1, a JSON string into a `json` field as the text it holds, and a bare `NaN`
token (pandas' json.dumps of an empty cell) as null. vitrina's own API stays strict.
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
# A JSON string (kept as it is) or a bare NaN token (read as null): strings are matched first,
# so a "NaN" inside one is never touched. A regex because no JSON library rewrites tokens.
_NAN_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|(?<![\w.])NaN(?![\w.])')
NAN_NOTE = " (null, or a bare NaN: read as null)"
_NO_CHECKS: list[tuple[str, Any]] = []  # never appended to


def nan_as_null(body: bytes) -> bytes:
    """`body` with each bare NaN token (outside strings) replaced by null."""
    return _NAN_TOKEN.sub(lambda m: m.group(0) if m.group(0)[:1] == b'"' else b"null", body)


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


def _both(first: Any, then: Any) -> Any:
    if first is None or then is None:
        return first or then
    return lambda value, arrival: then(first(value, arrival), arrival)


class FieldChecks:
    """Each field of an item checked alone, for the reason of a rejected item: msgspec stops
    at the first bad field, a reason names them all. Only run on items already found bad."""

    def __init__(self, stream: Stream, foreign: bool) -> None:
        strict = not foreign
        self.stream = stream
        self._raw_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
        self._checks = [
            (
                f,
                msgspec.json.Decoder(f.msgspec_type(False, foreign), strict=strict),
                msgspec.json.Decoder(f.msgspec_type(True, foreign), strict=strict) if f.overflow() is not None else None,
                f.overflow(),
                _both(f.normaliser(foreign), f.foreign_check() if foreign else None),
            )
            for f in stream.fields
        ]
        self._names = {f.name for f in stream.fields}

    def problems(self, raw: bytes) -> list[tuple[str | None, str]]:
        """(field, reason) of every bad field of `raw`, in declaration order; [] when the
        item is not an object of readable fields."""
        try:
            item = self._raw_fields.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return []
        found: list[tuple[str | None, str]] = []
        for f, fast, wide, overflow, norm in self._checks:
            if f.name not in item:
                if f.required:
                    found.append((f.name, f"Object missing required field `{f.name}`"))
                continue
            why = self._one_field(f.name, bytes(item[f.name]), fast, wide, overflow, norm)
            if why is not None:
                found.append((f.name, why))
        if self.stream.strict:
            found += [(name, f"Object contains unknown field `{name}`") for name in item if name not in self._names]
        return found

    @staticmethod
    def _one_field(name: str, raw: bytes, fast: Any, wide: Any, overflow: Any, norm: Any) -> str | None:
        try:
            value = fast.decode(raw)
        except msgspec.ValidationError as err:
            if wide is None:
                return str(err).replace("`$", f"`$.{name}")
            try:
                value = wide.decode(raw)
            except msgspec.ValidationError as err2:
                return str(err2).replace("`$", f"`$.{name}")
            why: str | None = overflow(value)
            if why is not None:
                return why
        except UnicodeDecodeError as err:
            return f"a string is not valid UTF-8 ({err.reason})"
        except RecursionError:
            return TOO_DEEP
        except msgspec.DecodeError as err:
            return f"malformed JSON: {err}"
        if norm is not None:
            try:
                norm(value, 0)
            except (ValueError, TypeError) as exc:
                return str(exc)
        return None


class StreamValidator:
    def __init__(self, stream: Stream, foreign: bool = False) -> None:
        self.stream = stream
        self.foreign = foreign
        strict = not foreign  # lax: msgspec reads numeric strings into numbers, as JSONEachRow did
        self.item_type = self._struct(wide=False)
        self._one = msgspec.json.Decoder(self.item_type, strict=strict)
        self._many = msgspec.json.Decoder(list[self.item_type], strict=strict)  # type: ignore[name-defined]
        # Integers beyond INT64_MAX (UInt64 columns) fail the fast types; such items are read
        # again with the wide type and checked against their column here.
        self._overflow = [(f.name, check) for f in stream.fields if (check := f.overflow()) is not None]
        self._one_wide = msgspec.json.Decoder(self._struct(wide=True), strict=strict) if self._overflow else None
        self._raw_many = msgspec.json.Decoder(list[msgspec.Raw])
        self._raw_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
        self._encoder = msgspec.json.Encoder()
        self._norms = [(f.name, fn) for f in stream.fields if (fn := f.normaliser(foreign)) is not None]
        # Lax decoding reads "nan" / "inf" strings into floats: checked only in a batch whose
        # text has them (a whole batch's bytes are searched in C; a check per float is not).
        self._checks = [(f.name, fn) for f in stream.fields if foreign and (fn := f.foreign_check()) is not None]
        self._fields = FieldChecks(stream, foreign)
        self._foreign_twin: StreamValidator | None = None

    def for_foreign(self) -> StreamValidator:
        """This stream's validator for foreign sources (made once, on first use)."""
        if self.foreign:
            return self
        if self._foreign_twin is None:
            self._foreign_twin = StreamValidator(self.stream, foreign=True)
        return self._foreign_twin

    def _struct(self, wide: bool) -> Any:
        spec: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for f in self.stream.fields:
            typ = f.msgspec_type(wide, self.foreign)
            spec.append((f.name, typ) if f.required else (f.name, typ, f.msgspec_default()))
        name = f"{self.stream.name}_event" + ("_wide" if wide else "") + ("_foreign" if self.foreign else "")
        return msgspec.defstruct(name, spec, kw_only=True, forbid_unknown_fields=self.stream.strict)

    # -- entry points -------------------------------------------------------------------------

    def check_json(self, body: bytes, arrival_ns: int) -> Checked:
        """A JSON object or an array of objects."""
        # One function for both readers: a call more per request is a measurable share of a
        # single event's cost (bench/hotpath.py counts them).
        checks = _NO_CHECKS
        if self.foreign:
            body, checks = self._foreign_body(body)
        head = body.lstrip()[:1]
        if head == b"{":
            item = self._decode_one(body, None)
            if isinstance(item, Malformed):
                raise BadBody(item.message)
            if isinstance(item, Problem):
                return self._rejected_single(body, item)
            return self._finish([item], [None], arrival_ns, 1, checks)
        if head == b"[":
            try:
                items = self._many.decode(body)
            except (msgspec.ValidationError, UnicodeDecodeError, RecursionError):
                # ValidationError first: it is a DecodeError subclass (valid JSON, wrong shape)
                return self._item_by_item(self._split_array(body), arrival_ns, checks)
            except msgspec.DecodeError as err:
                raise BadBody(f"malformed JSON: {err}") from None
            return self._finish(items, list(range(len(items))), arrival_ns, len(items), checks)
        if not head:
            raise BadBody("empty body: send a JSON object, an array of objects, or NDJSON")
        raise BadBody("the body must be a JSON object, an array of objects, or NDJSON lines")

    def check_ndjson(self, body: bytes, arrival_ns: int) -> Checked:
        """One JSON object per line; a malformed line is one rejected item, not a bad body."""
        checks = _NO_CHECKS
        if self.foreign:
            body, checks = self._foreign_body(body)
        lines = [ln for ln in body.split(b"\n") if ln.strip()]
        return self._item_by_item(lines, arrival_ns, checks)

    # -- internals ------------------------------------------------------------------------------

    def _foreign_body(self, body: bytes) -> tuple[bytes, list[tuple[str, Any]]]:
        """A foreign body with its bare NaN tokens as null, and the checks it needs: the finite
        checks only when its text spells nan or inf somewhere (searched in C, once per body)."""
        if b"NaN" in body:
            body = nan_as_null(body)
        if not self._checks:
            return body, _NO_CHECKS
        low = body.lower()
        return body, self._checks if b"nan" in low or b"inf" in low else _NO_CHECKS

    def _decode_one(self, raw: bytes, index: int | None) -> Any:
        """The decoded item, or the Problem that stops it."""
        try:
            return self._one.decode(raw)
        except msgspec.ValidationError as err:
            if self._one_wide is None:
                return self._every_problem(raw, explain(err, index))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
            return self._unreadable(err, raw, index)
        return self._decode_wide(raw, index)

    def _every_problem(self, raw: bytes, first: Problem) -> Problem:
        """`first` (what stopped the decoder) with the item's other bad fields in its message:
        a reject reason names every bad field, not only the first one found."""
        found = self._fields.problems(raw)
        if len(found) < 2:
            return first if not found else Problem(first.index, found[0][0], self._noted(raw, found[0][1]))
        text = "; ".join(f"{name}: {msg}" if name else msg for name, msg in found[1:])
        return Problem(first.index, found[0][0], self._noted(raw, f"{found[0][1]}; {text}"))

    def _noted(self, raw: bytes, message: str) -> str:
        return message + NAN_NOTE if self.foreign and "got `null`" in message else message

    def _decode_wide(self, raw: bytes, index: int | None) -> Any:
        assert self._one_wide is not None
        try:
            item = self._one_wide.decode(raw)
        except msgspec.ValidationError as err:
            return self._every_problem(raw, explain(err, index))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
            return self._unreadable(err, raw, index)
        for name, check in self._overflow:
            if check(getattr(item, name)) is not None:
                return self._every_problem(raw, Problem(index, name, "out of range"))
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

    def _item_by_item(self, raws: list[bytes], arrival_ns: int, checks: list[tuple[str, Any]]) -> Checked:
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
        out = self._finish(good, where, arrival_ns, len(raws), checks)
        for problem, raw in bad:
            out.problems.append(problem)
            out.raws.append(raw)
        out.problems.sort(key=lambda p: p.index or 0)
        return out

    def _rejected_single(self, raw: bytes, problem: Problem) -> Checked:
        return Checked(problems=[problem], raws=[raw], total=1)

    def _refuse(self, out: Checked, index: int | None, item: Any, bad: list[tuple[str, str]]) -> None:
        """A decoded item its normalisers refused, with every refused field in its reason."""
        text = "; ".join([bad[0][1], *(f"{n}: {m}" for n, m in bad[1:])])
        out.problems.append(Problem(index, bad[0][0], text))
        out.raws.append(self._encoder.encode(item))

    def _finish(self, items: list[Any], where: list[int | None], arrival_ns: int, total: int, checks: list[tuple[str, Any]]) -> Checked:
        out = Checked(total=total)
        norms = self._norms + checks if checks else self._norms
        if norms:
            kept = []
            for item, index in zip(items, where, strict=False):
                # The item decoded: only its normalisers can refuse it now, each field alone.
                # Inline, not a helper: this loop runs once per event.
                bad: list[tuple[str, str]] | None = None
                for name, fn in norms:
                    try:
                        setattr(item, name, fn(getattr(item, name), arrival_ns))
                    except (ValueError, TypeError) as exc:
                        bad = [*(bad or ()), (name, str(exc))]
                if bad is None:
                    kept.append(item)
                else:
                    self._refuse(out, index, item, bad)
            items = kept
        out.count = len(items)
        out.rows = self._encoder.encode_lines(items) if items else b""
        return out
