"""Panel and dashboard declarations: declared once, rendered by the built-in dashboard and
exported to Grafana.

A panel's `sql` is a template in the ClickHouse Grafana plugin's macro language, so the same text
serves both (render.py expands it for vitrina, grafana.py keeps the plugin's macros):

- `$__timeFilter(expr)`, `$__fromTime`, `$__toTime`, `$__interval_s`, `$__timeInterval(expr)`:
  the plugin's macros (no commas inside a macro argument: the plugin splits arguments on them);
- `$__table(name)`: `database.name`; `$__database`: the database name as a string literal;
- `$__rollup(stream)`: the stream's (first) rollup table, 1 s or 1 min buckets by the interval;
  `$__rollup(stream.name)` a named rollup; `$__rollup_s`: the bucket width of the table read;
- `${var:sqlstring}`: a dashboard variable as a quoted string (Grafana's own formatter syntax).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("timeseries", "bar", "table", "stat", "histogram", "alerts")
# Grafana unit ids; the built-in dashboard formats the same ids.
UNITS = ("short", "percentunit", "s", "ms", "bytes", "reqps", "currencyUSD", "none")
TIME_COLUMN = "time"  # the bucket column of every time series
CONTROL_COLUMNS = ("cl_mean", "cl_upper", "cl_lower", "cl_beyond")
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")  # dashboard names and panel ids: in URLs and element ids


class PanelError(ValueError):
    """A panel or dashboard declaration is not valid."""


@dataclass(frozen=True)
class Threshold:
    """A line at `value`; beyond it (above, or below when `above` is False) is bad."""

    value: float
    color: str = "red"
    label: str = ""
    above: bool = True
    rule: str = ""  # the alert rule it is the limit of ('' for a dashboard's own target)


@dataclass(frozen=True)
class ControlLimits:
    """Shewhart limits over the plotted buckets: mean ± sigma·σ (population σ) of `column`; the
    query also returns `cl_beyond`, the values outside them."""

    column: str
    sigma: float = 3.0


@dataclass(frozen=True)
class Variable:
    """A dashboard variable picked from the values a query returns (one column)."""

    name: str
    label: str
    query: str  # its options are shown in natural order (metric_2 before metric_10)


@dataclass(frozen=True)
class Panel:
    id: str
    title: str
    kind: str
    sql: str = ""
    columns: tuple[str, ...] = ()  # what the query returns, in order (control columns excluded)
    unit: str = "short"
    thresholds: tuple[Threshold, ...] = ()
    control: ControlLimits | None = None
    series: str | None = None  # a column whose values split a time series into traces
    width: int = 6  # of Grafana's 24 grid columns
    height: int = 0  # grid rows; 0: 4 for a stat, 8 for the rest
    description: str = ""
    figure: str = ""  # the rollup figure shown ("stream:alias"), drawn the same on every page

    def __post_init__(self) -> None:
        if not NAME.match(self.id):
            raise PanelError(f"panel id {self.id!r} must match {NAME.pattern}")
        if self.kind not in KINDS:
            raise PanelError(f"panel {self.id!r}: kind must be one of {KINDS}")
        if self.unit not in UNITS:
            raise PanelError(f"panel {self.id!r}: unit must be one of {UNITS}")
        if self.kind != "alerts" and (not self.sql or not self.columns):
            raise PanelError(f"panel {self.id!r}: a {self.kind} panel needs sql and columns")
        if self.kind == "timeseries" and self.columns[0] != TIME_COLUMN:
            raise PanelError(f"panel {self.id!r}: a time series returns {TIME_COLUMN!r} first")
        if self.control and self.control.column not in self.columns:
            raise PanelError(f"panel {self.id!r}: control column {self.control.column!r} is not returned")
        if self.series and self.series not in self.columns:
            raise PanelError(f"panel {self.id!r}: series column {self.series!r} is not returned")
        if not 1 <= self.width <= 24:
            raise PanelError(f"panel {self.id!r}: width is 1..24 grid columns")

    @property
    def rows(self) -> int:
        return self.height or (4 if self.kind == "stat" else 8)

    @property
    def output_columns(self) -> tuple[str, ...]:
        return (*self.columns, *CONTROL_COLUMNS) if self.control else self.columns


@dataclass(frozen=True)
class Dashboard:
    name: str
    title: str
    panels: tuple[Panel, ...]
    description: str = ""
    variables: tuple[Variable, ...] = ()
    streams: tuple[str, ...] = ()  # the streams this page is about (a stream without one gets a generated page)

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise PanelError(f"dashboard name {self.name!r} must match {NAME.pattern}")
        ids = [p.id for p in self.panels]
        if len(set(ids)) != len(ids):
            raise PanelError(f"dashboard {self.name!r}: duplicate panel ids")

    def panel(self, panel_id: str) -> Panel:
        for p in self.panels:
            if p.id == panel_id:
                return p
        raise KeyError(panel_id)
