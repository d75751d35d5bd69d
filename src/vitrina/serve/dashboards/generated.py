"""A page for every stream that has rollups and no built-in page: user-declared streams get
one from their declaration alone. Each rollup gives its aggregates and figures as stats over
the range and as time series (counts per second), and a table by its keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

from vitrina.serve.dashboards.panels import Dashboard, Panel
from vitrina.serve.dashboards.sources import Measure, RollupSource
from vitrina.streams.declare import Aggregate, Stream

# Aggregates whose value over no rows means something (a count is 0); the rest have none.
_ALWAYS = ("count", "sum", "uniq")
# What a stat over the range shows; quantile states are drawn as series only.
_STAT_TITLES = {"count": "{}", "sum": "{} (sum)", "uniq": "{} (distinct)", "avg": "{} (mean)", "min": "{} (min)", "max": "{} (max)"}
_STAT_TITLES["argMax"] = "{} (last)"


def _level(q: float) -> str:
    """A quantile level as a column name: 0.5 -> p50, 0.999 -> p99_9."""
    percent = Decimal(str(q)).scaleb(2).normalize()
    return "p" + f"{percent:f}".replace(".", "_")


def _stats(src: RollupSource, prefix: str) -> Iterator[Panel]:
    events = src.first_count()
    for a in src.rollup.aggregates:
        if a.function in _STAT_TITLES:
            m = Measure(src, a.name, src.merge(a.name), always=a.function in _ALWAYS)
            yield m.stat(f"{prefix}{a.name}", _STAT_TITLES[a.function].format(a.name))
    if events is not None:
        yield Panel(f"{prefix}per_s", f"{events} per second", "stat", src.per_second(src.merge(events), "per_s"), ("per_s",), "reqps")
    for name, _ in src.rollup.figures:
        yield Measure(src, name, src.merge(name), always=False).stat(f"{prefix}{name}", name)


def _series(src: RollupSource, a: Aggregate, prefix: str) -> Panel:
    pid, key = f"{prefix}{a.name}_series", src.rollup.keys[0][0] if src.rollup.keys else None
    if a.function == "quantiles":
        names = tuple(_level(q) for q in a.levels)
        return Panel(pid, f"{a.name} {' / '.join(names)}", "timeseries", src.quantiles(a.name, names), ("time", *names), width=12)
    if a.function == "count":
        select = f"{src.merge(a.name)} / $__interval_s AS {a.name}"
        if key is None:
            return Panel(pid, f"{a.name} per second", "timeseries", src.bucketed(select), ("time", a.name), "reqps", width=12)
        sql = src.bucketed(f"`{key}`, {select}", group=f"`{key}`")
        return Panel(pid, f"{a.name} per second by {key}", "timeseries", sql, ("time", key, a.name), "reqps", series=key, width=12)
    return Panel(pid, f"{a.name} per bucket", "timeseries", src.bucketed(f"{src.merge(a.name)} AS {a.name}"), ("time", a.name), width=12)


def _by_key(src: RollupSource, prefix: str) -> Panel | None:
    keys = [k for k, _ in src.rollup.keys]
    if not keys:
        return None
    cols = [a.name for a in src.rollup.aggregates if a.function != "quantiles"]
    order = src.first_count() or cols[0]
    select = ", ".join([*(f"`{k}`" for k in keys), *(f"{src.merge(c)} AS {c}" for c in cols)])
    sql = (
        f"SELECT {select}\nFROM $__rollup({src.ref}) WHERE $__timeFilter(t)\n"
        f"GROUP BY {', '.join(f'`{k}`' for k in keys)} ORDER BY {order} DESC LIMIT 20"
    )
    return Panel(f"{prefix}by_key", f"By {', '.join(keys)}", "table", sql, (*keys, *cols), width=24)


def rollup_panels(stream: Stream) -> Iterator[Panel]:
    for rollup in stream.rollups:
        src = RollupSource(stream, rollup)
        prefix = f"{rollup.name}_" if len(stream.rollups) > 1 and rollup.name else ""
        yield from _stats(src, prefix)
        for a in rollup.aggregates:
            yield _series(src, a, prefix)
        for name, _ in rollup.figures:
            yield Measure(src, name, src.merge(name)).series(f"{prefix}{name}_series", f"{name} per bucket")
        if (table := _by_key(src, prefix)) is not None:
            yield table


def _rows(widths: int, n: int) -> list[int]:
    """Widths that fill whole rows of the 24-column grid with n panels, at most `widths` a row."""
    out: list[int] = []
    while len(out) < n:
        k = min(widths, n - len(out))
        out += [24 // k + (1 if i < 24 % k else 0) for i in range(k)]
    return out


def _laid_out(panels: list[Panel]) -> tuple[Panel, ...]:
    """Stats in full rows of up to six, charts two a row, tables the whole width."""
    stats = [p for p in panels if p.kind == "stat"]
    charts = [p for p in panels if p.kind == "timeseries"]
    tables = [p for p in panels if p.kind not in ("stat", "timeseries")]
    placed = [replace(p, width=w) for p, w in zip(stats, _rows(6, len(stats)), strict=True)]
    placed += [replace(p, width=w) for p, w in zip(charts, _rows(2, len(charts)), strict=True)]
    return (*placed, *(replace(p, width=24) for p in tables))


def stream_dashboard(stream: Stream, name: str) -> Dashboard:
    return Dashboard(
        name,
        stream.name,
        panels=_laid_out(list(rollup_panels(stream))),
        description=stream.description or f"Stream {stream.name}: its rollups, from its declaration.",
        streams=(stream.name,),
    )
