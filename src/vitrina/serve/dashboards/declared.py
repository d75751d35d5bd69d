"""Dashboards declared in the config file:

    [dashboards.shop]
    title = "Shop"
    [[dashboards.shop.panels]]
    id = "orders"
    kind = "timeseries"          # timeseries | bar | table | stat | histogram | alerts
    stream = "orders"            # a figure of the stream's rollups ...
    figure = "events"            # ... an aggregate or a figure, drawn per bucket or over the range
    rule = "OrdersFew"           # the limit of a threshold alert rule, drawn on the panel

    [[dashboards.shop.panels]]
    id = "by_country"
    kind = "bar"
    sql = "SELECT country, countMerge(events) AS n FROM $__rollup(orders) WHERE $__timeFilter(t) GROUP BY country"
    columns = ["country", "n"]   # what the query returns (a template in the macros of panels.py)

Each is checked when the config is read: unknown keys, streams, figures, rules and macros
are errors naming the dashboard and the panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vitrina.serve.dashboards.panels import KINDS, UNITS, ControlLimits, Dashboard, Panel, PanelError
from vitrina.serve.dashboards.render import QueryWindow, TemplateError, render_vitrina
from vitrina.serve.dashboards.sources import Context

_DASHBOARD_KEYS = {"title", "description", "panels"}
_PANEL_KEYS = {"id", "title", "kind", "stream", "figure", "sql", "columns", "series", "unit", "width", "height", "rule", "control"}
_PANEL_KEYS |= {"description"}


class DashboardConfigError(ValueError):
    pass


def _unknown(where: str, spec: Mapping[str, Any], known: set[str]) -> None:
    extra = set(spec) - known
    if extra:
        raise DashboardConfigError(f"{where}: unknown keys {sorted(extra)}; known: {sorted(known)}")


def _figure_panel(spec: Mapping[str, Any], ctx: Context, where: str, common: dict[str, Any]) -> Panel:
    stream, figure = str(spec.get("stream", "")), str(spec["figure"])
    if stream not in ctx.streams or not ctx.streams[stream].rollups:
        with_rollups = sorted(n for n, s in ctx.streams.items() if s.rollups)
        raise DashboardConfigError(f"{where}: `stream` must be a stream with rollups: {', '.join(with_rollups)}")
    try:
        src = ctx.source(stream, figure)
    except KeyError:
        columns = sorted({c for r in ctx.streams[stream].rollups for c in r.columns})
        raise DashboardConfigError(f"{where}: stream {stream!r} has no rollup figure {figure!r}; figures: {', '.join(columns)}") from None
    kind, expr = common.pop("kind"), src.merge(figure)
    if kind == "stat":
        sql = src.total(f"{expr} AS {figure}", having="count() > 0")
        return Panel(kind=kind, sql=sql, columns=(figure,), figure=f"{src.ref}:{figure}", **common)
    if kind != "timeseries":
        raise DashboardConfigError(f"{where}: a `figure` panel is a stat or a timeseries; write `sql` for a {kind}")
    control = ControlLimits(figure) if spec.get("control") else None
    sql = src.bucketed(f"{expr} AS {figure}")
    return Panel(kind=kind, sql=sql, columns=("time", figure), control=control, figure=f"{src.ref}:{figure}", **common)


def _sql_panel(spec: Mapping[str, Any], ctx: Context, where: str, common: dict[str, Any]) -> Panel:
    columns = spec.get("columns")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise DashboardConfigError(f"{where}: `sql` needs `columns`, the names the query returns in order")
    sql = str(spec["sql"])
    try:  # the macros and rollups it names must exist
        render_vitrina(sql, "vitrina", QueryWindow(0, 3600, 10), {}, ctx.streams)
    except TemplateError as exc:
        raise DashboardConfigError(f"{where}: {exc}") from None
    control = spec.get("control")
    limits = ControlLimits(str(control)) if isinstance(control, str) else None
    series = spec.get("series")
    return Panel(sql=sql, columns=tuple(columns), control=limits, series=str(series) if series else None, **common)


def _panel(spec: Any, ctx: Context, where: str) -> Panel:
    if not isinstance(spec, Mapping) or "id" not in spec:
        raise DashboardConfigError(f"{where}: each [[...panels]] table needs an `id`")
    where = f"{where} panel {spec['id']!r}"
    _unknown(where, spec, _PANEL_KEYS)
    kind = str(spec.get("kind", "timeseries"))
    if kind not in KINDS or str(spec.get("unit", "short")) not in UNITS:
        raise DashboardConfigError(f"{where}: kind is one of {', '.join(KINDS)}; unit one of {', '.join(UNITS)}")
    rule = str(spec.get("rule", ""))
    if rule and ctx.rule(rule) is None:
        raise DashboardConfigError(f"{where}: `rule` must name a threshold alert rule (> >= < <=); rules: {', '.join(sorted(ctx.rules))}")
    common: dict[str, Any] = {
        "id": str(spec["id"]),
        "title": str(spec.get("title", spec["id"])),
        "kind": kind,
        "unit": str(spec.get("unit", "short")),
        "width": int(spec.get("width", 12)),
        "height": int(spec.get("height", 0)),
        "description": str(spec.get("description", "")),
        "thresholds": ctx.limits(rule) if rule else (),
    }
    if kind == "alerts":
        return Panel(**common)
    if ("figure" in spec) == ("sql" in spec):
        raise DashboardConfigError(f"{where}: give either `stream` and `figure` or `sql` and `columns`")
    build = _figure_panel if "figure" in spec else _sql_panel
    return build(spec, ctx, where, common)


def _dashboard(name: str, spec: Any, ctx: Context) -> Dashboard:
    where = f"[dashboards.{name}]"
    if not isinstance(spec, Mapping):
        raise DashboardConfigError(f"{where}: a table with title and [[dashboards.{name}.panels]]")
    _unknown(where, spec, _DASHBOARD_KEYS)
    panels = spec.get("panels")
    if not isinstance(panels, list) or not panels:
        raise DashboardConfigError(f"{where}: declare its panels as [[dashboards.{name}.panels]]")
    try:
        return Dashboard(
            name,
            str(spec.get("title", name)),
            tuple(_panel(p, ctx, where) for p in panels),
            description=str(spec.get("description", "")),
        )
    except PanelError as exc:
        raise DashboardConfigError(f"{where}: {exc}") from None


def declared_dashboards(specs: Mapping[str, Any], ctx: Context, taken: set[str]) -> list[Dashboard]:
    out = []
    for name, spec in specs.items():
        if name in taken:
            raise DashboardConfigError(f"[dashboards.{name}]: a dashboard of that name exists already ({', '.join(sorted(taken))})")
        out.append(_dashboard(name, spec, ctx))
    return out
