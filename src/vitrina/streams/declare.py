"""Stream declarations: a stream is its fields, its time, its storage policy and its rollups.

Built-in streams are declared in `builtin.py`; users declare more in the TOML config file
(`parse_stream`). Validation, DDL, rollups and docs are all derived from these objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vitrina.streams.fields import DeclarationError, Field

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESOLUTIONS = {"1s": "toStartOfSecond", "1m": "toStartOfMinute"}
RESOLUTION_SECONDS = {"1s": 1, "1m": 60}  # the bucket width of each rollup table
# A figure's expression names aggregates; quoted text is skipped when they are replaced.
_WORDS = re.compile(r"'(?:[^'\\]|\\.)*'|`[^`]*`|\b[A-Za-z_][A-Za-z0-9_]*\b")
# Aggregates a rollup may keep. Each is stored as a -State and read back with -Merge, so the
# same declaration gives the rollup's DDL, its read query and the raw-table equivalent.
AGGREGATES = ("count", "sum", "min", "max", "avg", "uniq", "quantiles", "argMax")


@dataclass(frozen=True)
class Aggregate:
    name: str
    function: str
    args: tuple[str, ...] = ()
    where: str | None = None  # a condition: the -If combinator
    levels: tuple[float, ...] = (0.5, 0.9, 0.99)  # quantiles only

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise DeclarationError(f"aggregate name {self.name!r} must match {_NAME.pattern}")
        if self.function not in AGGREGATES:
            raise DeclarationError(f"aggregate {self.name!r}: function must be one of {AGGREGATES}")
        if self.function not in ("count",) and not self.args:
            raise DeclarationError(f"aggregate {self.name!r}: {self.function} needs args")

    def _params(self) -> str:
        return f"({', '.join(repr(q) for q in self.levels)})" if self.function == "quantiles" else ""

    def state_sql(self) -> str:
        """The -State expression the materialized view writes. A condition uses -StateIf, whose
        state has the plain function's type, so reading it back needs no -If."""
        args = ", ".join(self.args)
        if self.where:
            args = f"{args}, ({self.where})" if args else f"({self.where})"
            return f"{self.function}StateIf{self._params()}({args})"
        return f"{self.function}State{self._params()}({args})"

    def raw_sql(self) -> str:
        """The same aggregate computed directly over the raw table."""
        args = ", ".join(self.args)
        if self.where:
            args = f"{args}, ({self.where})" if args else f"({self.where})"
            return f"{self.function}If{self._params()}({args})"
        return f"{self.function}{self._params()}({args})"

    def merge_sql(self, column: str) -> str:
        """Reads the rollup column back (the -Merge of the stored state)."""
        return f"{self.function}Merge{self._params()}({column})"


@dataclass(frozen=True)
class Rollup:
    """Aggregates of a stream per time bucket (1 s and 1 min) and per key."""

    name: str
    keys: tuple[tuple[str, str], ...]  # (column, SQL expression over the raw table)
    aggregates: tuple[Aggregate, ...]
    where: str | None = None
    description: str = ""
    # Figures computed when reading, from the merged aggregates (e.g. a failure rate).
    figures: tuple[tuple[str, str], ...] = ()

    def table(self, stream: str, resolution: str) -> str:
        return f"{stream}_{self.name}_{resolution}" if self.name else f"{stream}_{resolution}"

    @property
    def columns(self) -> tuple[str, ...]:
        """What a read of the rollup returns: its aggregates, then its figures."""
        return (*(a.name for a in self.aggregates), *(name for name, _ in self.figures))

    def aggregate(self, name: str) -> Aggregate:
        for a in self.aggregates:
            if a.name == name:
                return a
        raise KeyError(f"rollup has no aggregate {name!r}; aggregates: {', '.join(a.name for a in self.aggregates)}")

    def expression(self, column: str, over: Callable[[Aggregate], str]) -> str:
        """SQL for an aggregate or a figure, each aggregate written by `over` (its -Merge over
        the rollup table, or the plain aggregate over the raw table)."""
        figures = dict(self.figures)
        if column not in figures:
            return over(self.aggregate(column))
        names = {a.name: a for a in self.aggregates}

        def word(m: re.Match[str]) -> str:
            a = names.get(m.group(0))
            return over(a) if a is not None else m.group(0)

        return _WORDS.sub(word, figures[column])


@dataclass(frozen=True)
class Stream:
    name: str
    fields: tuple[Field, ...]
    time_field: str
    order_by: tuple[str, ...] = ()
    partition_by: str | None = None
    ttl_days: int | None = None
    strict: bool = True
    rollups: tuple[Rollup, ...] = ()
    derived: tuple[tuple[str, str, str], ...] = ()  # (column, type, MATERIALIZED expression)
    description: str = ""
    builtin: bool = False
    # On a ClickHouse cluster, the expression whose value picks a row's shard (an integer). It
    # must be a function of the row as sent: a replayed batch then splits over the shards as
    # the first time did, and each shard drops its part by the batch's token.
    shard_key: str | None = None
    field_index: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise DeclarationError(f"stream name {self.name!r} must match {_NAME.pattern}")
        index = {f.name: f for f in self.fields}
        if len(index) != len(self.fields):
            raise DeclarationError(f"stream {self.name!r}: duplicate field names")
        time = index.get(self.time_field)
        if time is None or time.kind != "timestamp":
            raise DeclarationError(f"stream {self.name!r}: time_field {self.time_field!r} must be a timestamp field")
        object.__setattr__(self, "field_index", index)

    @property
    def time(self) -> Field:
        return self.field_index[self.time_field]

    @property
    def time_sql(self) -> str:
        return self.time.time_sql()

    @property
    def table(self) -> str:
        return self.name

    @property
    def sharding_key(self) -> str:
        """The declared `shard_key`, else a hash of the whole sort key: spread evenly, but one
        entity's rows (a user, an item) land on every shard; declare a key to keep them together."""
        if self.shard_key:
            return self.shard_key
        return f"cityHash64({', '.join(self.order_by) if self.order_by else self.time_field})"


def _field_from_toml(name: str, spec: dict[str, Any]) -> Field:
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind is None:
        raise DeclarationError(f"field {name!r}: missing `type`")
    if "values" in spec:
        spec["values"] = tuple(spec["values"])
    try:
        return Field(name=name, kind=kind, **spec)
    except TypeError as exc:
        raise DeclarationError(f"field {name!r}: {exc}") from None


def _rollup_from_toml(stream: str, spec: dict[str, Any]) -> Rollup:
    keys = tuple((k, k) if isinstance(k, str) else (k[0], k[1]) for k in spec.get("keys", []))
    aggs = []
    for a in spec.get("aggregates", []):
        a = dict(a)
        a["args"] = tuple(a.get("args", ()))
        if "levels" in a:
            a["levels"] = tuple(a["levels"])
        try:
            aggs.append(Aggregate(**a))
        except TypeError as exc:
            raise DeclarationError(f"stream {stream!r} rollup: {exc}") from None
    if not aggs:
        raise DeclarationError(f"stream {stream!r}: a rollup needs at least one aggregate")
    figures = tuple((str(k), str(v)) for k, v in spec.get("figures", {}).items())
    return Rollup(name=spec.get("name", ""), keys=keys, aggregates=tuple(aggs), where=spec.get("where"), figures=figures)


def parse_stream(name: str, spec: dict[str, Any]) -> Stream:
    """A stream declared in the config file (`[streams.NAME]`)."""
    fields_spec = spec.get("fields")
    if not isinstance(fields_spec, dict) or not fields_spec:
        raise DeclarationError(f"stream {name!r}: declare its fields under [streams.{name}.fields]")
    fields = tuple(_field_from_toml(fname, fspec) for fname, fspec in fields_spec.items())
    time_field = spec.get("time_field")
    if time_field is None:
        # Every stream needs an event time; without one declared, it is the arrival time.
        time_field = "time"
        if "time" not in fields_spec:
            fields = (Field("time", "timestamp", required=False), *fields)
    known = {"fields", "time_field", "order_by", "partition_by", "ttl_days", "strict", "rollups", "description", "shard_key"}
    unknown = set(spec) - known
    if unknown:
        raise DeclarationError(f"stream {name!r}: unknown settings {sorted(unknown)}")
    return Stream(
        name=name,
        fields=fields,
        time_field=time_field,
        order_by=tuple(spec.get("order_by", ())),
        partition_by=spec.get("partition_by"),
        ttl_days=spec.get("ttl_days"),
        strict=spec.get("strict", True),
        rollups=tuple(_rollup_from_toml(name, r) for r in spec.get("rollups", [])),
        description=spec.get("description", ""),
        shard_key=_shard_key(name, spec.get("shard_key")),
    )


def _shard_key(stream: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DeclarationError(f'stream {stream!r}: shard_key must be a ClickHouse expression, such as "intHash64(user_id)"')
    return value.strip()
