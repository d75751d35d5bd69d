"""Field kinds, one row each: how a field of the kind is validated (its msgspec type and
constraints), stored (its ClickHouse type), described (its JSON schema and the docs' range
note) and normalised before it is stored. `Field` (fields.py) asks its kind's row; a new kind
is one more row here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import msgspec

from vitrina.streams.ranges import FLOAT_MAX, INT64_MAX, INT64_MIN, MAX_NS, UINT64_MAX, time_number_ranges, uint_type
from vitrina.streams.timeparse import to_epoch_ns

if TYPE_CHECKING:
    from vitrina.streams.fields import Field

Normaliser = Callable[[Any, int], Any]  # (decoded value, arrival ns) -> what the insert takes
Overflow = Callable[[Any], str | None]  # why a value decoded with the wide type does not fit

ID_MAX_LENGTH = 256
# A time string in the OpenAPI document: any string, described. JSON Schema cannot say "a
# real ISO 8601 date between two instants", and a narrower schema than what is accepted would
# not be true (the validator reads every form datetime.fromisoformat takes).
TIME_TEXT = {
    "type": "string",
    "description": "RFC 3339 / ISO 8601, a missing offset meaning UTC; 1970-01-01 .. 2262-04-11T23:47:16.854775807Z",
    "examples": ["2024-05-01T07:00:00Z", "2024-05-01T10:00:00.123456789+03:00"],
}
_KEPT = {0: "the second", 3: "the millisecond", 6: "the microsecond", 9: "the nanosecond"}


@dataclass(frozen=True)
class Kind:
    name: str
    base: Callable[[Field, bool], Any]  # the msgspec type of a value (wide: integers beyond Int64 let through)
    clickhouse: Callable[[Field], str]  # the column type, before Nullable / LowCardinality
    schema: Callable[[Field], dict[str, Any]]  # the JSON schema of a value
    constraints: Callable[[Field, bool], dict[str, Any]] = lambda f, wide: {}  # msgspec.Meta bounds
    normaliser: Callable[[Field], Normaliser | None] = lambda f: None  # None: stored as decoded
    # From a foreign source (a seed's topic or keys, read as ClickHouse's JSONEachRow read them;
    # the decoder also turns numeric strings into numbers): more types a value may arrive as;
    # the normaliser then (None: the same as from vitrina's own API; one returning None: the
    # value goes to the insert as decoded, and JSONEachRow reads it as the seed's table did);
    # and a check run only when the batch may hold what lax decoding lets through ("nan").
    foreign_types: tuple[Any, ...] = ()
    foreign_normaliser: Callable[[Field], Normaliser | None] | None = None
    foreign_check: Callable[[Field], Normaliser] | None = None
    overflow: Callable[[Field], Overflow | None] = lambda f: None  # None: the fast type's bounds are exact
    note: Callable[[Field], str] = lambda f: ""  # what the docs say it accepts
    example: Callable[[Field], Any] = lambda f: None  # a valid value (None for a time: "now")
    empty: Callable[[], Any] | None = None  # containers: an absent value is this, never NULL
    fills_absent: bool = False  # an absent value is filled in (arrival time, empty container), never NULL
    null_is_a_value: bool = False  # the value type itself takes null (json): no Optional around it
    bounded: bool = False  # takes ge / le
    text: bool = False  # takes max_length


# -- integers ---------------------------------------------------------------------------------


def _int_constraints(f: Field, wide: bool) -> dict[str, Any]:
    lo, hi = f.int_range()
    out: dict[str, Any] = {"ge": lo}
    if hi <= INT64_MAX or not wide:
        # msgspec checks bounds in C only within Int64: above it the wide type takes any
        # integer and `overflow` checks it against the column.
        out["le"] = min(hi, INT64_MAX)
    return out


def _int_schema(f: Field) -> dict[str, Any]:
    first, last = f.int_range()
    return {"type": "integer", "minimum": first, "maximum": last}


def _int_note(f: Field) -> str:
    lo, hi = f.int_range()
    return f"{lo} .. {hi}."


def _uint_overflow(f: Field) -> Overflow | None:
    hi = f.int_range()[1]
    if hi <= INT64_MAX:
        return None
    return lambda v: None if v is None or v <= hi else f"Expected `int` <= {hi}"


def _big_uint(wide: bool) -> Any:
    return Annotated[int, msgspec.Meta(ge=0)] if wide else Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]


# -- floats -----------------------------------------------------------------------------------


def _float_constraints(f: Field, wide: bool) -> dict[str, Any]:
    return {name: bound for name, bound in (("ge", f.ge), ("le", f.le)) if bound is not None}


def _float_schema(f: Field) -> dict[str, Any]:
    lo, hi = -FLOAT_MAX if f.ge is None else f.ge, FLOAT_MAX if f.le is None else f.le
    return {"type": "number", "minimum": lo, "maximum": hi}


def _float_note(f: Field) -> str:
    # msgspec refuses NaN and Infinity (not JSON) and numbers that overflow a double ("Number
    # out of range"), so every decoded float is finite: no normaliser needed.
    lo_text = "" if f.ge is None else f" >= {f.ge:g}"
    hi_text = "" if f.le is None else f" <= {f.le:g}"
    return f"A finite number{lo_text}{',' if lo_text and hi_text else ''}{hi_text}."


def _finite_float(f: Field) -> Normaliser:
    """A foreign source's numeric string may spell "nan" or "inf", which the lenient decoder
    turns into a float: still refused, a column of finite numbers stays one."""

    def finite(value: Any, _arrival: int) -> Any:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"Expected a finite number, got {value!r}")
        return value

    return finite


def _finite_floats(f: Field) -> Normaliser:
    def finite(value: Any, _arrival: int) -> Any:
        if any(not math.isfinite(x) for x in value):
            raise ValueError("Expected finite numbers, got NaN or Infinity")
        return value

    return finite


# -- text -------------------------------------------------------------------------------------


def _string_constraints(f: Field, wide: bool) -> dict[str, Any]:
    return {name: v for name, v in (("max_length", f.max_length), ("pattern", f.pattern)) if v is not None}


def _string_schema(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string"}
    if f.max_length is not None:
        out["maxLength"] = f.max_length
    if f.pattern is not None:
        out["pattern"] = f.pattern
    return out


def _string_note(f: Field) -> str:
    return f"UTF-8 text of at most {f.max_length} characters." if f.max_length else "UTF-8 text."


def _id_base(f: Field, wide: bool) -> Any:
    number = int if wide else Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
    return Union[Annotated[str, msgspec.Meta(max_length=f.max_length or ID_MAX_LENGTH)], number]


def _id_schema(f: Field) -> dict[str, Any]:
    text = {"type": "string", "maxLength": f.max_length or ID_MAX_LENGTH}
    return {"anyOf": [text, {"type": "integer", "minimum": INT64_MIN, "maximum": UINT64_MAX}]}


def _id_overflow(f: Field) -> Overflow:
    return lambda v: None if not isinstance(v, int) or INT64_MIN <= v <= UINT64_MAX else "an integer id must fit in 64 bits"


def _id_normaliser(f: Field) -> Normaliser:
    return lambda value, _arrival: value if value is None or isinstance(value, str) else str(value)


def _id_note(f: Field) -> str:
    return f"UTF-8 text of at most {f.max_length or ID_MAX_LENGTH} characters, or an integer in -2^63 .. 2^64-1 (stored as its digits)."


def _json_normaliser(f: Field) -> Normaliser:
    return lambda value, _arrival: None if value is None or bytes(value) == b"null" else bytes(value).decode()


def _as_decoded(f: Field) -> None:
    """From a foreign source the decoded value goes to the insert as it is, and JSONEachRow
    reads it as the seed's ClickHouse did: a bool into an integer column as 0 / 1, a JSON
    string into a String column as the text it holds, an object or a number as its JSON text."""
    return None


# -- times ------------------------------------------------------------------------------------


def _time_clickhouse(f: Field) -> str:
    return "UInt64" if f.storage == "epoch_ns" else f"DateTime64({f.precision}, 'UTC')"


def _time_schema(f: Field) -> dict[str, Any]:
    numbers = [{"type": "number", "minimum": lo, "maximum": hi} for lo, hi in time_number_ranges(f.unit)]
    return {"anyOf": [TIME_TEXT, *numbers]}


def _time_note(f: Field) -> str:
    kept = "the nanosecond (as epoch ns)" if f.storage == "epoch_ns" else _KEPT[f.precision]
    return f"1970-01-01 .. 2262-04-11T23:47:16.854775807Z, kept to {kept}."


def _time_normaliser(f: Field) -> Normaliser:
    """Times go to ClickHouse as numbers: epoch nanoseconds for a UInt64 column, epoch seconds
    with `precision` decimals for DateTime64. A "secs.frac" string was read by ClickHouse's
    best-effort date parser, which took "0.000000000" for a broken date and "1.5" for May 1st."""
    unit, storage, precision = f.unit, f.storage, f.precision
    scale = 10 ** (9 - precision)

    def norm_time(value: Any, arrival_ns: int) -> Any:
        ns = arrival_ns if value is None else to_epoch_ns(value, unit)
        if storage == "epoch_ns":
            return ns
        secs, frac = divmod(ns, 1_000_000_000)
        return msgspec.Raw(b"%d.%0*d" % (secs, precision, frac // scale)) if precision else secs

    if storage == "epoch_ns" and unit == "ns":
        # The upload monitor's ts_ns: an integer in range is stored as it is (the hot path).
        return lambda value, arrival_ns: value if value.__class__ is int and 0 <= value <= MAX_NS else norm_time(value, arrival_ns)
    return norm_time


# -- examples (the dashboard's first-event guide) ---------------------------------------------


def _int_example(f: Field) -> int:
    lo, hi = f.int_range()
    return max(lo, min(1, hi))


def _float_example(f: Field) -> float:
    lo = -FLOAT_MAX if f.ge is None else f.ge
    hi = FLOAT_MAX if f.le is None else f.le
    return max(lo, min(1.5, hi))


def _text_example(f: Field) -> str:
    return "example"[: f.max_length] if f.max_length is not None else "example"


# -- the table --------------------------------------------------------------------------------


def _fixed(value: Any) -> Callable[..., Any]:
    return lambda *_: value


_FINITE = {"type": "number", "minimum": -FLOAT_MAX, "maximum": FLOAT_MAX}
_TABLE = (
    # UTF-8 text, optional max_length / pattern
    Kind("string", _fixed(str), _fixed("String"), _string_schema, _string_constraints, note=_string_note, example=_text_example, text=True),
    # one of `values`
    Kind(
        "enum",
        lambda f, wide: Literal[f.values],
        _fixed("String"),
        lambda f: {"type": "string", "enum": list(f.values)},
        example=lambda f: f.values[0],
    ),
    # signed 64-bit integer (Int64), optional ge / le
    Kind(
        "int",
        _fixed(int),
        _fixed("Int64"),
        _int_schema,
        _int_constraints,
        note=_int_note,
        example=_int_example,
        bounded=True,
        foreign_types=(bool,),
    ),
    # unsigned integer, optional ge / le: UInt64, or the narrowest UInt that holds le
    Kind(
        "uint",
        _fixed(int),
        lambda f: uint_type(f.int_range()[1]),
        _int_schema,
        _int_constraints,
        overflow=_uint_overflow,
        note=_int_note,
        example=_int_example,
        bounded=True,
        foreign_types=(bool,),
    ),
    # finite 64-bit float (NaN and Infinity are refused), optional ge / le
    Kind(
        "float",
        _fixed(float),
        _fixed("Float64"),
        _float_schema,
        _float_constraints,
        note=_float_note,
        example=_float_example,
        bounded=True,
        foreign_check=_finite_float,
    ),
    Kind("bool", _fixed(bool), _fixed("Bool"), _fixed({"type": "boolean"}), example=_fixed(True)),
    # RFC 3339 string or epoch s / ms / us / ns number; absent: the arrival time
    Kind(
        "timestamp",
        _fixed(Union[str, int, float]),
        _time_clickhouse,
        _time_schema,
        normaliser=_time_normaliser,
        note=_time_note,
        fills_absent=True,
    ),
    # identifier sent as a string or an integer, stored as text
    Kind(
        "id",
        _id_base,
        _fixed("String"),
        _id_schema,
        normaliser=_id_normaliser,
        foreign_normaliser=_as_decoded,
        overflow=_id_overflow,
        note=_id_note,
        example=_text_example,
        text=True,
    ),
    # any JSON value, stored as its JSON text (msgspec.Raw takes null too; inside a Union it would not)
    Kind(
        "json",
        _fixed(msgspec.Raw),
        _fixed("String"),
        lambda f: {},
        normaliser=_json_normaliser,
        foreign_normaliser=_as_decoded,
        example=lambda f: {"example": True},
        null_is_a_value=True,
    ),
    # object of string -> string
    Kind(
        "map_string",
        _fixed(dict[str, str]),
        _fixed("Map(String, String)"),
        _fixed({"type": "object", "additionalProperties": {"type": "string"}}),
        example=lambda f: {"key": "value"},
        empty=dict,
        fills_absent=True,
    ),
    # object of string -> unsigned integer
    Kind(
        "map_uint",
        lambda f, wide: dict[str, _big_uint(wide)],  # type: ignore[misc]  # a type built at run time
        _fixed("Map(String, UInt64)"),
        _fixed({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": UINT64_MAX}}),
        overflow=_fixed(lambda v: None if not v or max(v.values()) <= UINT64_MAX else f"Expected `int` <= {UINT64_MAX} (a map value)"),
        note=_fixed(f"Values 0 .. {UINT64_MAX}."),
        example=lambda f: {"key": 1},
        empty=dict,
        fills_absent=True,
    ),
    # array of finite floats
    Kind(
        "array_float",
        _fixed(list[float]),
        _fixed("Array(Float64)"),
        _fixed({"type": "array", "items": _FINITE}),
        note=_fixed("Finite numbers."),
        foreign_check=_finite_floats,
        example=lambda f: [1.5],
        empty=list,
        fills_absent=True,
    ),
)
KIND_TABLE: dict[str, Kind] = {k.name: k for k in _TABLE}
KINDS = tuple(KIND_TABLE)
BOUNDED = tuple(k.name for k in _TABLE if k.bounded)  # the kinds that take ge / le
TEXT = tuple(k.name for k in _TABLE if k.text)  # the kinds that take max_length
