"""Declared fields: what a stream's field is, checked when it is declared.

A stream declaration is a list of `Field`s. Everything downstream asks the field: the msgspec
type used to validate requests, the ClickHouse column type, the JSON schema shown in the
OpenAPI docs, and how to normalise the decoded value before it is stored. The field answers
from its kind's row in kinds.py, and applies the one nullability rule (`takes_null`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Union

import msgspec

from vitrina.streams.kinds import BOUNDED, KIND_TABLE, KINDS, TEXT, Kind, Normaliser, Overflow
from vitrina.streams.ranges import INT64_MAX, INT64_MIN, UINT64_MAX

__all__ = ["KINDS", "TIME_UNITS", "DeclarationError", "Field"]
TIME_UNITS = ("auto", "s", "ms", "us", "ns")


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
    example: Any = None  # a valid value for docs and the first-event guide; default: the kind's own

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
        if self.max_length is not None and (self.kind not in TEXT or self.max_length < 0):
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

    # -- what the kind says ------------------------------------------------------------------

    @property
    def spec(self) -> Kind:
        return KIND_TABLE[self.kind]

    @property
    def takes_null(self) -> bool:
        """Null may be sent, or the field left out with nothing declared in its place. The one
        nullability rule: validation takes null then, and the column stores it unless the kind
        fills an absent value in itself (an arrival time, an empty map)."""
        return self.nullable or (not self.required and self.default is None)

    @property
    def stores_null(self) -> bool:
        return self.nullable or (self.takes_null and not self.spec.fills_absent)

    # -- validation -------------------------------------------------------------------------

    def int_range(self) -> tuple[int, int]:
        """The integers an int or uint field accepts: its declared bounds within its column's."""
        lo, hi = (0, UINT64_MAX) if self.kind == "uint" else (INT64_MIN, INT64_MAX)
        if self.ge is not None:
            lo = max(lo, int(self.ge))
        if self.le is not None:
            hi = min(hi, int(self.le))
        return lo, hi

    def msgspec_type(self, wide: bool = False, foreign: bool = False) -> Any:
        """The type msgspec decodes this field into (constraints included).

        msgspec checks integer bounds in C only within Int64; above INT64_MAX it decodes any
        integer, however big. The fast type caps such fields at INT64_MAX; the `wide` type
        lets larger integers through, and `overflow()` then checks them against the column.
        `foreign`: a foreign source's value, which may also arrive as the kind's foreign types."""
        kind = self.spec
        meta: dict[str, Any] = {"description": self.description} if self.description else {}
        meta.update(kind.constraints(self, wide))
        base = kind.base(self, wide)
        typ = Annotated[base, msgspec.Meta(**meta)] if meta else base
        if foreign and kind.foreign_types:
            typ = Union[(typ, *kind.foreign_types)]  # a union built at run time
        if self.takes_null and not kind.null_is_a_value:
            typ = Union[typ, None]
        return typ

    def overflow(self) -> Overflow | None:
        """For a value decoded with the `wide` type: why it does not fit the column, or None.
        None (no function) when the fast type's own bounds are exact."""
        return self.spec.overflow(self)

    def msgspec_default(self) -> Any:
        """Default used when the field is absent (only for optional fields)."""
        empty = self.spec.empty
        return msgspec.field(default_factory=empty) if empty is not None else self.default

    def normaliser(self, foreign: bool = False) -> Normaliser | None:
        """A function turning the decoded value into what the JSONEachRow insert expects,
        or None when the decoded value is stored as it is. Raises ValueError on bad values.
        `foreign`: for a value decoded with the foreign type."""
        if foreign and self.spec.foreign_normaliser is not None:
            return self.spec.foreign_normaliser(self)
        return self.spec.normaliser(self)

    def foreign_check(self) -> Normaliser | None:
        """For a foreign source's value: a check of what lax decoding may let through (a
        numeric string "nan" into a float), or None."""
        check = self.spec.foreign_check
        return check(self) if check is not None else None

    def json_schema(self) -> dict[str, Any]:
        """The field's JSON Schema (OpenAPI 3.1): the same bounds the validator enforces."""
        out = dict(self.spec.schema(self))
        if self.takes_null and not self.spec.null_is_a_value:
            out = {"anyOf": [out, {"type": "null"}]}
        if self.description:
            out["description"] = self.description
        if not self.required and self.default is not None:
            out["default"] = self.default
        return out

    def example_value(self) -> Any:
        """A value this field accepts (None for a time: the arrival time, or "now")."""
        return self.example if self.example is not None else self.spec.example(self)

    def range_note(self) -> str:
        """What values the field accepts, as the docs state it (the validator enforces it)."""
        return self.spec.note(self)

    # -- storage ----------------------------------------------------------------------------

    def clickhouse_type(self) -> str:
        t = self.spec.clickhouse(self)
        if self.stores_null:
            t = f"Nullable({t})"
        if self.low_cardinality or self.kind == "enum":
            t = f"LowCardinality({t})"
        return t

    def time_sql(self) -> str:
        """SQL giving this timestamp field as a DateTime64 (for partitions, TTLs and rollups)."""
        if self.storage == "epoch_ns":
            return f"fromUnixTimestamp64Nano(toInt64({self.name}), 'UTC')"
        return self.name
