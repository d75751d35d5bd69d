"""Expanding panel templates (see panels.py): for vitrina's own queries (a time range, an
interval, variables bound as query parameters) and for Grafana (the plugin's macros kept)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vitrina.serve.dashboards.panels import ControlLimits, Panel
from vitrina.serve.dashboards.sources import resolve_rollup
from vitrina.streams.builtin import BUILTIN
from vitrina.streams.declare import RESOLUTION_SECONDS, Stream
from vitrina.warehouse.engine import as_is

# Bucket widths the dashboard picks from; every one of 60 s and above is whole minutes, so the
# 1-minute rollup can serve it.
NICE_INTERVALS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_POINTS = 360
BUILTIN_STREAMS: Mapping[str, Stream] = {s.name: s for s in BUILTIN}
# Rollup tables by bucket width, widest first: an interval reads the widest that divides it.
_WIDEST_FIRST = sorted(RESOLUTION_SECONDS.items(), key=lambda kv: -kv[1])
_MACRO = re.compile(r"\$__([A-Za-z_]+)")
_VARIABLE = re.compile(r"\$\{([a-z][a-z0-9_]*)(?::sqlstring)?\}")


class TemplateError(ValueError):
    pass


def pick_interval(span_s: float, max_points: int = MAX_POINTS) -> int:
    """The smallest nice bucket width giving at most `max_points` buckets over the span."""
    need = max(1.0, span_s / max_points)
    return next((n for n in NICE_INTERVALS if n >= need), math.ceil(need / 86400) * 86400)


def _split_macros(template: str, expand: Callable[[str, str | None], str]) -> str:
    """Replaces each `$__name` or `$__name(arg)` (nested parentheses allowed) by expand(name, arg)."""
    out: list[str] = []
    pos = 0
    for m in _MACRO.finditer(template):
        if m.start() < pos:
            continue  # inside an argument already consumed
        out.append(template[pos : m.start()])
        name, end, arg = m.group(1), m.end(), None
        if end < len(template) and template[end] == "(":
            depth, i = 0, end
            while i < len(template):
                depth += {"(": 1, ")": -1}.get(template[i], 0)
                if depth == 0:
                    break
                i += 1
            if depth:
                raise TemplateError(f"unbalanced parentheses after $__{name}")
            arg, end = template[end + 1 : i].strip(), i + 1
        out.append(expand(name, arg))
        pos = end
    out.append(template[pos:])
    return "".join(out)


@dataclass(frozen=True)
class QueryWindow:
    """The time range (epoch seconds) and bucket width a dashboard is shown for."""

    start: int
    end: int
    interval_s: int

    @classmethod
    def of(cls, start: int, end: int) -> QueryWindow:
        return cls(start, end, pick_interval(end - start))


def resolution_for(interval_s: int) -> str:
    return next(res for res, width in _WIDEST_FIRST if interval_s % width == 0)


def rollup_table(streams: Mapping[str, Stream], ref: str, resolution: str, read: Callable[[str], str] = as_is) -> str:
    """The table of `$__rollup(ref)` at a resolution, as the stream declares it."""
    try:
        stream, rollup = resolve_rollup(streams, ref)
    except KeyError as exc:
        raise TemplateError(f"$__rollup({ref}): {exc.args[0]}") from None
    return read(rollup.table(stream.name, resolution))


def _grafana_rollup(streams: Mapping[str, Stream], database: str, ref: str, read: Callable[[str], str]) -> str:
    """Every rollup table behind a constant condition on the panel's interval: ClickHouse reads
    only the one vitrina would pick (the widest bucket that divides the interval)."""
    parts = []
    for res, width in sorted(RESOLUTION_SECONDS.items(), key=lambda kv: kv[1]):
        conds = [f"$__interval_s % {width} = 0"] if width > 1 else []
        conds += [f"$__interval_s % {wider} != 0" for _, wider in _WIDEST_FIRST if wider > width]
        parts.append(f"SELECT * FROM {database}.{rollup_table(streams, ref, res, read)} WHERE {' AND '.join(conds) or '1'}")
    return "(" + " UNION ALL ".join(parts) + ")"


def _grafana_rollup_s() -> str:
    """The bucket width of the table `_grafana_rollup` reads, as SQL over the interval."""
    out = "1"
    for _, width in sorted(RESOLUTION_SECONDS.items(), key=lambda kv: kv[1]):
        if width > 1:
            out = f"if($__interval_s % {width} = 0, {width}, {out})"
    return out


def render_vitrina(
    template: str,
    database: str,
    window: QueryWindow,
    variables: dict[str, str],
    streams: Mapping[str, Stream] = BUILTIN_STREAMS,
    read: Callable[[str], str] = as_is,
) -> tuple[str, dict[str, object]]:
    """SQL for vitrina's reader with the macros expanded as the plugin would; variables become
    query parameters (never spliced into the text). `read` names the table a table is read
    through (the engine policy's: on a cluster, its `_all` table)."""
    frm, to, step = f"toDateTime({window.start})", f"toDateTime({window.end})", window.interval_s
    resolution = resolution_for(step)

    def expand(name: str, arg: str | None) -> str:
        if name == "timeFilter" and arg:
            return f"{arg} >= {frm} AND {arg} <= {to}"
        if name == "timeInterval" and arg:
            return f"toStartOfInterval(toDateTime({arg}), INTERVAL {step} second)"
        if name in ("fromTime", "toTime"):
            return frm if name == "fromTime" else to
        if name == "interval_s":
            return str(step)
        if name == "table" and arg:
            return f"{database}.{read(arg)}"
        if name == "rollup" and arg:
            return f"{database}.{rollup_table(streams, arg, resolution, read)}"
        if name == "rollup_s":
            return str(RESOLUTION_SECONDS[resolution])
        if name == "database":
            return f"'{database}'"
        raise TemplateError(f"unknown macro $__{name}")

    params: dict[str, object] = {}

    def variable(m: re.Match[str]) -> str:
        params[f"var_{m.group(1)}"] = variables.get(m.group(1), "")
        return f"{{var_{m.group(1)}:String}}"

    return _VARIABLE.sub(variable, _split_macros(template, expand)), params


def render_grafana(
    template: str, database: str, streams: Mapping[str, Stream] = BUILTIN_STREAMS, read: Callable[[str], str] = as_is
) -> str:
    """SQL for the ClickHouse Grafana plugin: its macros stay, vitrina's own are expanded. The
    rollup becomes both tables, each behind a constant condition on the interval, so ClickHouse
    reads only the one that fits the panel's interval."""

    def expand(name: str, arg: str | None) -> str:
        if name == "table" and arg:
            return f"{database}.{read(arg)}"
        if name == "rollup" and arg:
            return _grafana_rollup(streams, database, arg, read)
        if name == "rollup_s":
            return _grafana_rollup_s()
        if name == "database":
            return f"'{database}'"
        return f"$__{name}" + (f"({arg})" if arg is not None else "")

    return _VARIABLE.sub(lambda m: f"${{{m.group(1)}:sqlstring}}", _split_macros(template, expand))


def with_control(sql: str, control: ControlLimits) -> str:
    """Adds the centre line and limits, computed over the buckets the query returns, and
    `cl_beyond`: the value where it lies outside them (NULL elsewhere), drawn as marked points."""
    v, k = f"`{control.column}`", control.sigma
    limits = (
        f"SELECT *, avg({v}) OVER () AS cl_mean, avg({v}) OVER () + {k} * stddevPop({v}) OVER () AS cl_upper,"
        f" avg({v}) OVER () - {k} * stddevPop({v}) OVER () AS cl_lower\nFROM (\n{sql}\n)"
    )
    return f"SELECT *, if({v} > cl_upper OR {v} < cl_lower, {v}, NULL) AS cl_beyond\nFROM (\n{limits}\n)\nORDER BY time"


def panel_template(panel: Panel) -> str:
    """The full template a panel runs (control limits included)."""
    return with_control(panel.sql, panel.control) if panel.control else panel.sql
