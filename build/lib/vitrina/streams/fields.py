"""Field kinds: the one place that knows how a declared field is validated, stored and documented.

A stream declaration is a list of `Field`s. Everything downstream asks the field:
the msgspec type used to validate requests, the ClickHouse column type, the JSON schema
shown in the OpenAPI docs, and how to normalise the decoded value before it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import msgspec

from vitrina.streams.timeparse import to_epoch_ns

KINDS = (
    "string",  # UTF-8 text, optional max_length / pattern
    "enum",  # one of `values`
    "int",  # signed 64-bit integer, optional ge / le
    "uint",  # unsigned 64-bit integer, optional le
    "float",  # finite 64-bit float (NaN and Infinity are refused)
    "bool",
    "timestamp",  # RFC 3339 string or epoch s / ms / us / ns number
    "id",  # identifier sent as a string or an integer, stored as text
    "json",  # any JSON value, stored as its JSON text
    "map_string",  # object of string -> string
    "map_uint",  # object of string -> unsigned integer
    "array_float",  # array of finite floats
)

TIME_UNITS = ("auto", "s", "ms", "us", "ns")
_UINTS = ((255, "UInt8"), (65535, "UInt16"), (2**32 - 1, "UInt32"), (2**64 - 1, "UInt64"))


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

    # -- validation -------------------------------------------------------------------------

    def msgspec_type(self) -> Any:
        """The type msgspec decodes this field into (constraints included)."""
        base: Any
        meta: dict[str, Any] = {}
        if self.description:
            meta["description"] = self.description
        k = self.kind
        if k == "string":
            base = str
            if self.max_length is not None:
                meta["max_length"] = self.max_length
            if self.pattern is not None:
                meta["pattern"] = self.pattern
        elif k == "enum":
            base = Literal[self.values]
        elif k in ("int", "uint"):
            # msgspec reads integers in [-2**63, 2**64 - 1]; bounds must fit in an int64.
            base = int
            lo = 0 if k == "uint" else -(2**63)
            meta["ge"] = lo if self.ge is None else max(lo, int(self.ge))
            if self.le is not None:
                meta["le"] = int(self.le)
            elif k == "int":
                meta["le"] = 2**63 - 1
        elif k == "float":
            base = float
            if self.ge is not None:
                meta["ge"] = self.ge
            if self.le is not None:
                meta["le"] = self.le
        elif k == "bool":
            base = bool
        elif k == "timestamp":
            base = Union[str, int, float]
        elif k == "id":
            base = Union[Annotated[str, msgspec.Meta(max_length=self.max_length or 256)], int]
        elif k == "json":
            base = msgspec.Raw
        elif k == "map_string":
            base = dict[str, str]
        elif k == "map_uint":
            base = dict[str, Annotated[int, msgspec.Meta(ge=0)]]
        else:  # array_float
            base = list[float]
        typ = Annotated[base, msgspec.Meta(**meta)] if meta else base
        if k == "json":  # Raw takes any value, null included; a Raw inside a Union would not
            return typ
        if self.nullable or (not self.required and self.default is None and self.kind != "timestamp"):
            typ = Union[typ, None]
        if self.kind == "timestamp" and not self.required:
            typ = Union[typ, None]
        return typ

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
            unit, storage, precision = self.unit, self.storage, self.precision

            def norm_time(value: Any, arrival_ns: int) -> Any:
                ns = arrival_ns if value is None else to_epoch_ns(value, unit)
                if storage == "epoch_ns":
                    return ns
                secs, frac = divmod(ns, 1_000_000_000)
                return f"{secs}.{frac:09d}"[: 11 + precision] if precision else str(secs)

            return norm_time
        # Floats need no check here: msgspec refuses NaN and Infinity (not JSON) and numbers
        # that overflow a double ("Number out of range"), so every decoded float is finite.
        if k == "id":
            return lambda value, _arrival: value if value is None or isinstance(value, str) else str(value)
        if k == "json":
            return lambda value, _arrival: None if value is None or bytes(value) == b"null" else bytes(value).decode()
        return None

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
        if k == "uint" and self.le is not None:
            t = next(name for bound, name in _UINTS if self.le <= bound)
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
