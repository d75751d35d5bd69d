"""Field kinds: the one place that knows how a declared field is validated, stored and documented.

A stream declaration is a list of `Field`s. Everything downstream asks the field:
the msgspec type used to validate requests, the ClickHouse column type, the JSON schema
shown in the OpenAPI docs, and how to normalise the decoded value before it is stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import msgspec

from vitrina.streams.ranges import FLOAT_MAX, INT64_MAX, INT64_MIN, UINT64_MAX, time_number_ranges, uint_type
from vitrina.streams.timeparse import to_epoch_ns

KINDS = (
    "string",  # UTF-8 text, optional max_length / pattern
    "enum",  # one of `values`
    "int",  # signed 64-bit integer (Int64), optional ge / le
    "uint",  # unsigned integer, optional ge / le: UInt64, or the narrowest UInt that holds le
    "float",  # finite 64-bit float (NaN and Infinity are refused), optional ge / le
    "bool",
    "timestamp",  # RFC 3339 string or epoch s / ms / us / ns number
    "id",  # identifier sent as a string or an integer, stored as text
    "json",  # any JSON value, stored as its JSON text
    "map_string",  # object of string -> string
    "map_uint",  # object of string -> unsigned integer
    "array_float",  # array of finite floats
)

TIME_UNITS = ("auto", "s", "ms", "us", "ns")
ID_MAX_LENGTH = 256
BOUNDED = ("int", "uint", "float")  # the kinds that take ge / le
# A time string in the OpenAPI document: any string, described. JSON Schema cannot say "a
# real ISO 8601 date between two instants", and a narrower schema than what is accepted would
# not be true (the validator reads every form datetime.fromisoformat takes).
TIME_TEXT = {
    "type": "string",
    "description": "RFC 3339 / ISO 8601, a missing offset meaning UTC; 1970-01-01 .. 2262-04-11T23:47:16.854775807Z",
    "examples": ["2024-05-01T07:00:00Z", "2024-05-01T10:00:00.123456789+03:00"],
}


class DeclarationError(ValueError):
    """A stream declaration (built-in or from the config file) is not valid."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required: bool = True
    default: Any = None
    nullable: bool = False
    max_length: int | None = None
    pattern: str | None = None
    ge: float | None = None
    le: float | None = None
    values: tuple[str, ...] = ()
    # timestamp only: how numbers are read ("auto" guesses s/ms/us/ns by magnitude) and how
    # the value is stored: DateTime64(precision) or, as the upload monitor did, UInt64 nanoseconds.
    unit: str = "auto"
    storage: str = "datetime64"
    precision: int = 3
    low_cardinality: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise DeclarationError(f"field name {self.name!r} must be an identifier not starting with '_'")
        if self.kind not in KINDS:
            raise DeclarationError(f"field {self.name!r}: unknown type {self.kind!r}; one of {', '.join(KINDS)}")
        if self.kind == "enum" and not self.values:
            raise DeclarationError(f"field {self.name!r}: an enum needs `values`")
        if self.kind == "timestamp":
            if self.unit not in TIME_UNITS:
                raise DeclarationError(f"field {self.name!r}: unit must be one of {TIME_UNITS}")
            if self.storage not in ("datetime64", "epoch_ns"):
                raise DeclarationError(f"field {self.name!r}: storage must be datetime64 or epoch_ns")
            if self.precision not in (0, 3, 6, 9):
                raise DeclarationError(f"field {self.name!r}: precision must be 0, 3, 6 or 9")
        self._check_bounds()
        self._check_default()

    def _check_bounds(self) -> None:
        """Declared bounds must lie within what the column holds (a bound beyond it would let
        values through that ClickHouse then wraps)."""
        where = f"field {self.name!r}"
        declared = [(n, b) for n, b in (("ge", self.ge), ("le", self.le)) if b is not None]
        if declared and self.kind not in BOUNDED:
            raise DeclarationError(f"{where}: ge / le apply to {', '.join(BOUNDED)} fields only")
        if self.max_length is not None and (self.kind not in ("string", "id") or self.max_length < 0):
            raise DeclarationError(f"{where}: max_length must be a count >= 0, for string and id fields")
        for name, bound in declared:
            if isinstance(bound, bool) or not isinstance(bound, int | float) or not math.isfinite(bound):
                raise DeclarationError(f"{where}: {name} must be a finite number")
            if self.kind == "float":
                continue
            lo, hi = (0, UINT64_MAX) if self.kind == "uint" else (INT64_MIN, INT64_MAX)
            if bound != int(bound) or not lo <= bound <= hi:
                raise DeclarationError(f"{where}: {name} must be a whole number in {lo} .. {hi} (the column's range)")
            if name == "ge" and bound > INT64_MAX:
                raise DeclarationError(f"{where}: ge above {INT64_MAX} is not supported")
        if self.ge is not None and self.le is not None and self.ge > self.le:
            raise DeclarationError(f"{where}: ge is above le")

    def _check_default(self) -> None:
        """A declared default is stored as it is: it must be a value the field accepts."""
        if self.default is None or self.required:
            return
        try:
            value = msgspec.convert(self.default, self.msgspec_type(wide=True))
            check = self.overflow()
            problem = check(value) if check is not None else None
        except msgspec.ValidationError as exc:
            problem = str(exc)
        if problem:
            raise DeclarationError(f"field {self.name!r}: default {self.default!r} is not valid: {problem}")

    # -- validation -------------------------------------------------------------------------

    def int_range(self) -> tuple[int, int]:
        """The integers an int or uint field accepts: its declared bounds within its column's."""
        lo, hi = (0, UINT64_MAX) if self.kind == "uint" else (INT64_MIN, INT64_MAX)
        if self.ge is not None:
            lo = max(lo, int(self.ge))
        if self.le is not None:
            hi = min(hi, int(self.le))
        return lo, hi

    def msgspec_type(self, wide: bool = False) -> Any:
        """The type msgspec decodes this field into (constraints included).

        msgspec checks integer bounds in C only within Int64; above INT64_MAX it decodes any
        integer, however big. The fast type caps such fields at INT64_MAX; the `wide` type
        lets larger integers through, and `overflow()` then checks them against the column."""
        base = self._base_type(wide)
        meta: dict[str, Any] = {}
        if self.description:
            meta["description"] = self.description
        if self.kind == "string":
            if self.max_length is not None:
                meta["max_length"] = self.max_length
            if self.pattern is not None:
                meta["pattern"] = self.pattern
        elif self.kind in ("int", "uint"):
            lo, hi = self.int_range()
            meta["ge"] = lo
            if hi <= INT64_MAX or not wide:
                meta["le"] = min(hi, INT64_MAX)
        elif self.kind == "float":
            if self.ge is not None:
                meta["ge"] = self.ge
            if self.le is not None:
                meta["le"] = self.le
        typ = Annotated[base, msgspec.Meta(**meta)] if meta else base
        if self.kind == "json":  # Raw takes any value, null included; a Raw inside a Union would not
            return typ
        if self.nullable or (not self.required and self.default is None):
            typ = Union[typ, None]
        return typ

    def _base_type(self, wide: bool) -> Any:
        k = self.kind
        big: Any = Annotated[int, msgspec.Meta(ge=0)] if wide else Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
        if k == "enum":
            return Literal[self.values]
        if k == "timestamp":
            return Union[str, int, float]
        if k == "id":
            number = int if wide else Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
            return Union[Annotated[str, msgspec.Meta(max_length=self.max_length or ID_MAX_LENGTH)], number]
        if k == "map_string":
            return dict[str, str]
        if k == "map_uint":
            return dict[str, big]
        if k == "array_float":
            return list[float]
        return {"string": str, "int": int, "uint": int, "float": float, "bool": bool, "json": msgspec.Raw}[k]

    def overflow(self) -> Callable[[Any], str | None] | None:
        """For a value decoded with the `wide` type: why it does not fit the column, or None.
        None (no function) when the fast type's own bounds are exact."""
        k = self.kind
        if k == "uint" and self.int_range()[1] > INT64_MAX:
            hi = self.int_range()[1]
            return lambda v: None if v is None or v <= hi else f"Expected `int` <= {hi}"
        if k == "map_uint":
            return lambda v: None if not v or max(v.values()) <= UINT64_MAX else f"Expected `int` <= {UINT64_MAX} (a map value)"
        if k == "id":
            return lambda v: None if not isinstance(v, int) or INT64_MIN <= v <= UINT64_MAX else "an integer id must fit in 64 bits"
        return None

    def msgspec_default(self) -> Any:
        """Default used when the field is absent (only for optional fields)."""
        if self.kind in ("map_string", "map_uint"):
            return msgspec.field(default_factory=dict)
        if self.kind == "array_float":
            return msgspec.field(default_factory=list)
        return self.default

    def normaliser(self) -> Any:
        """A function turning the decoded value into what the JSONEachRow insert expects,
        or None when the decoded value is stored as it is. Raises ValueError on bad values."""
        k = self.kind
        if k == "timestamp":
            return _time_normaliser(self.unit, self.storage, self.precision)
        # Floats need no check here: msgspec refuses NaN and Infinity (not JSON) and numbers
        # that overflow a double ("Number out of range"), so every decoded float is finite.
        if k == "id":
            return lambda value, _arrival: value if value is None or isinstance(value, str) else str(value)
        if k == "json":
            return lambda value, _arrival: None if value is None or bytes(value) == b"null" else bytes(value).decode()
        return None

    def json_schema(self) -> dict[str, Any]:
        """The field's JSON Schema (OpenAPI 3.1): the same bounds the validator enforces."""
        out = self._value_schema()
        if self.nullable or (not self.required and self.default is None and self.kind != "json"):
            out = {"anyOf": [out, {"type": "null"}]}
        if self.description:
            out["description"] = self.description
        if not self.required and self.default is not None:
            out["default"] = self.default
        return out

    def _value_schema(self) -> dict[str, Any]:
        k = self.kind
        lo, hi = -FLOAT_MAX if self.ge is None else self.ge, FLOAT_MAX if self.le is None else self.le
        number = {"type": "number", "minimum": lo, "maximum": hi}
        if k in ("int", "uint"):
            first, last = self.int_range()
            return {"type": "integer", "minimum": first, "maximum": last}
        if k == "string":
            text: dict[str, Any] = {"type": "string"}
            if self.max_length is not None:
                text["maxLength"] = self.max_length
            if self.pattern is not None:
                text["pattern"] = self.pattern
            return text
        if k == "id":
            id_text = {"type": "string", "maxLength": self.max_length or ID_MAX_LENGTH}
            return {"anyOf": [id_text, {"type": "integer", "minimum": INT64_MIN, "maximum": UINT64_MAX}]}
        if k == "timestamp":
            numbers = [{"type": "number", "minimum": lo, "maximum": hi} for lo, hi in time_number_ranges(self.unit)]
            return {"anyOf": [TIME_TEXT, *numbers]}
        others: dict[str, dict[str, Any]] = {
            "float": number,
            "enum": {"type": "string", "enum": list(self.values)},
            "bool": {"type": "boolean"},
            "json": {},
            "map_string": {"type": "object", "additionalProperties": {"type": "string"}},
            "map_uint": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": UINT64_MAX}},
            "array_float": {"type": "array", "items": {"type": "number", "minimum": -FLOAT_MAX, "maximum": FLOAT_MAX}},
        }
        return others[k]

    def range_note(self) -> str:
        """What values the field accepts, as the docs state it (the validator enforces it)."""
        k = self.kind
        if k in ("int", "uint"):
            lo, hi = self.int_range()
            return f"{lo} .. {hi}."
        if k == "float":
            lo_text = "" if self.ge is None else f" >= {self.ge:g}"
            hi_text = "" if self.le is None else f" <= {self.le:g}"
            return f"A finite number{lo_text}{',' if lo_text and hi_text else ''}{hi_text}."
        if k == "timestamp":
            kept = {0: "the second", 3: "the millisecond", 6: "the microsecond", 9: "the nanosecond"}[self.precision]
            if self.storage == "epoch_ns":
                kept = "the nanosecond (as epoch ns)"
            return f"1970-01-01 .. 2262-04-11T23:47:16.854775807Z, kept to {kept}."
        if k in ("string", "id"):
            most = f" of at most {self.max_length or ID_MAX_LENGTH} characters" if self.max_length or k == "id" else ""
            return f"UTF-8 text{most}" + (", or an integer in -2^63 .. 2^64-1 (stored as its digits)." if k == "id" else ".")
        if k == "map_uint":
            return f"Values 0 .. {UINT64_MAX}."
        if k == "array_float":
            return "Finite numbers."
        return ""

    # -- storage ----------------------------------------------------------------------------

    def clickhouse_type(self) -> str:
        k = self.kind
        t = {
            "string": "String",
            "enum": "String",
            "int": "Int64",
            "uint": "UInt64",
            "float": "Float64",
            "bool": "Bool",
            "id": "String",
            "json": "String",
            "map_string": "Map(String, String)",
            "map_uint": "Map(String, UInt64)",
            "array_float": "Array(Float64)",
        }.get(k)
        if k == "uint":
            t = uint_type(self.int_range()[1])
        if k == "timestamp":
            t = "UInt64" if self.storage == "epoch_ns" else f"DateTime64({self.precision}, 'UTC')"
        assert t is not None
        can_be_null = self.nullable or (
            not self.required and self.default is None and k not in ("timestamp", "map_string", "map_uint", "array_float")
        )
        if can_be_null:
            t = f"Nullable({t})"
        if self.low_cardinality or k == "enum":
            t = f"LowCardinality({t})"
        return t

    def time_sql(self) -> str:
        """SQL giving this timestamp field as a DateTime64 (for partitions, TTLs and rollups)."""
        if self.storage == "epoch_ns":
            return f"fromUnixTimestamp64Nano(toInt64({self.name}), 'UTC')"
        return self.name


def _time_normaliser(unit: str, storage: str, precision: int) -> Callable[[Any, int], Any]:
    """Times go to ClickHouse as numbers: epoch nanoseconds for a UInt64 column, epoch seconds
    with `precision` decimals for DateTime64. A "secs.frac" string was read by ClickHouse's
    best-effort date parser, which took "0.000000000" for a broken date and "1.5" for May 1st."""
    scale = 10 ** (9 - precision)

    def norm_time(value: Any, arrival_ns: int) -> Any:
        ns = arrival_ns if value is None else to_epoch_ns(value, unit)
        if storage == "epoch_ns":
            return ns
        secs, frac = divmod(ns, 1_000_000_000)
        return msgspec.Raw(b"%d.%0*d" % (secs, precision, frac // scale)) if precision else secs

    return norm_time
