"""Where panels take their figures from: the stream declarations (a rollup's aggregates and
figures) and the alert rules (thresholds). Nothing a panel shows is typed a second time.

`Context` is what every dashboard is built from: the streams of this install (built-in and
user-declared) and its alert rules. `RollupSource` writes panel templates over one rollup
(the `$__rollup(ref)` macro, see panels.py); `Measure` is a figure with its unit and
thresholds, so the same figure is drawn and coloured the same on every page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vitrina.alerts.rules import Rule
from vitrina.serve.dashboards.panels import Panel, Threshold
from vitrina.streams.declare import Aggregate, Rollup, Stream

# A rule's severity decides the colour of its line and of a stat beyond it.
SEVERITY_COLORS = {"critical": "red", "warning": "orange"}
_BOUNDS = {">": True, ">=": True, "<": False, "<=": False}  # op -> bad above the value


def rollup_ref(stream: Stream, rollup: Rollup) -> str:
    """The `$__rollup(...)` argument of a stream's rollup: the stream for its first rollup,
    `stream.name` for a named one."""
    return stream.name if rollup is stream.rollups[0] else f"{stream.name}.{rollup.name}"


def resolve_rollup(streams: Mapping[str, Stream], ref: str) -> tuple[Stream, Rollup]:
    name, _, rollup = ref.partition(".")
    stream = streams.get(name)
    if stream is None or not stream.rollups:
        raise KeyError(f"no stream with rollups named {name!r}")
    if not rollup:
        return stream, stream.rollups[0]
    for r in stream.rollups:
        if r.name == rollup:
            return stream, r
    raise KeyError(f"stream {name!r} has no rollup named {rollup!r}")


@dataclass(frozen=True)
class RollupSource:
    """Panel templates over one rollup of one stream."""

    stream: Stream
    rollup: Rollup

    @property
    def ref(self) -> str:
        return rollup_ref(self.stream, self.rollup)

    def table(self, resolution: str) -> str:
        return self.rollup.table(self.stream.name, resolution)

    def merge(self, column: str) -> str:
        """An aggregate (its -Merge) or a figure (its expression over the -Merges)."""
        return self.rollup.expression(column, _merged)

    def first_count(self) -> str | None:
        """The rollup's event count: its first count() without a condition."""
        return next((a.name for a in self.rollup.aggregates if a.function == "count" and not a.where), None)

    def bucketed(self, select: str, where: str = "", group: str = "", having: str = "") -> str:
        cond = f"$__timeFilter(t){f' AND {where}' if where else ''}"
        keys = f"time{f', {group}' if group else ''}"
        having = f"\nHAVING {having}" if having else ""
        return (
            f"SELECT $__timeInterval(t) AS time, {select}\nFROM $__rollup({self.ref})\nWHERE {cond}\n"
            f"GROUP BY {keys}{having}\nORDER BY {keys}"
        )

    def total(self, select: str, where: str = "", having: str = "") -> str:
        """Over the whole range; `having` e.g. `count() > 0`: no row (no value) without data."""
        cond = f"$__timeFilter(t){f' AND {where}' if where else ''}"
        return f"SELECT {select}\nFROM $__rollup({self.ref})\nWHERE {cond}{f' HAVING {having}' if having else ''}"

    def quantiles(self, column: str, names: Sequence[str], where: str = "") -> str:
        """Quantile levels of a rollup column as one column each, buckets without values left out."""
        cols = ", ".join(f"q[{i}] AS {n}" for i, n in enumerate(names, 1))
        inner = self.bucketed(f"{self.merge(column)} AS q", where)
        return f"SELECT time, {cols} FROM (\n{inner}\n)\nWHERE NOT isNaN({names[0]})\nORDER BY time"

    def per_second(self, count: str, alias: str, where: str = "") -> str:
        """A count over the range divided by the time that has data: from the first bucket
        with data to the end of the last (not the whole range: a stream that started ten
        minutes ago is not averaged over the hour before it existed)."""
        span = "greatest(1, toUInt32(max(t)) - toUInt32(min(t)) + $__rollup_s)"
        return self.total(f"{count} / {span} AS {alias}", where)


def _merged(a: Aggregate) -> str:
    return a.merge_sql(f"`{a.name}`")


@dataclass(frozen=True)
class Measure:
    """One figure over one rollup, with how it is shown: the same thresholds wherever it is.
    `always`: the figure has a value without data (a count is 0); a ratio or a mean has none."""

    source: RollupSource
    alias: str
    expr: str
    unit: str = "short"
    thresholds: tuple[Threshold, ...] = ()
    where: str = ""
    always: bool = True

    @property
    def figure(self) -> str:
        return f"{self.source.ref}:{self.alias}"

    def stat(self, panel_id: str, title: str, width: int = 6, description: str = "") -> Panel:
        sql = self.source.total(f"{self.expr} AS {self.alias}", self.where, "" if self.always else "count() > 0")
        return Panel(
            panel_id,
            title,
            "stat",
            sql,
            (self.alias,),
            self.unit,
            thresholds=self.thresholds,
            width=width,
            description=description,
            figure=self.figure,
        )

    def series(self, panel_id: str, title: str, width: int = 12, description: str = "", having: str = "") -> Panel:
        return Panel(
            panel_id,
            title,
            "timeseries",
            self.source.bucketed(f"{self.expr} AS {self.alias}", self.where, having=having),
            ("time", self.alias),
            self.unit,
            thresholds=self.thresholds,
            width=width,
            description=description,
            figure=self.figure,
        )


@dataclass(frozen=True)
class Context:
    """The declarations dashboards are built from."""

    streams: Mapping[str, Stream]
    rules: Mapping[str, Rule] = field(default_factory=dict)

    @classmethod
    def of(cls, streams: Mapping[str, Stream], rules: Sequence[Rule]) -> Context:
        return cls(dict(streams), {r.name: r for r in rules})

    def source(self, stream: str, column: str | None = None) -> RollupSource:
        """The rollup of `stream` that holds `column` (its first rollup without a column)."""
        s = self.streams[stream]
        for r in s.rollups:
            if column is None or column in r.columns:
                return RollupSource(s, r)
        raise KeyError(f"no rollup of stream {stream!r} holds {column!r}")

    def merge(self, stream: str, column: str) -> str:
        return self.source(stream, column).merge(column)

    def rule(self, name: str) -> Rule | None:
        rule = self.rules.get(name)
        return rule if rule is not None and rule.kind == "threshold" and rule.op in _BOUNDS else None

    def limits(self, rule_name: str) -> tuple[Threshold, ...]:
        """The line of a threshold rule (none when the rule is off or not a bound)."""
        rule = self.rule(rule_name)
        if rule is None:
            return ()
        color = SEVERITY_COLORS.get(rule.labels.get("severity", ""), "red")
        label = f"{rule.name}: {rule.op} {rule.value:g}"
        return (Threshold(rule.value, color, label, _BOUNDS[rule.op], rule=rule.name),)

    def measure(
        self,
        stream: str,
        column: str,
        unit: str = "short",
        thresholds: tuple[Threshold, ...] = (),
        always: bool = True,
        alias: str | None = None,
    ) -> Measure:
        """A rollup column (aggregate or figure) as it is declared."""
        source = self.source(stream, column)
        return Measure(source, alias or column, source.merge(column), unit, thresholds, always=always)
