"""Panel templates: the interval picked for a range, the expansion for vitrina (variables bound,
never spliced) and for Grafana (the plugin's macros kept), and declaration checks."""

from __future__ import annotations

import pytest

from vitrina.serve.dashboards.data import RANGES, RangeError, alert_rows, parse_window
from vitrina.serve.dashboards.grafana import default_catalog
from vitrina.serve.dashboards.panels import ControlLimits, Panel, PanelError
from vitrina.serve.dashboards.render import QueryWindow, pick_interval, render_grafana, render_vitrina

DASHBOARDS = default_catalog().dashboards
TEMPLATE = (
    "SELECT $__timeInterval(t) AS time, count() AS n FROM $__rollup(uploads)\n"
    "WHERE $__timeFilter(toDateTime(ts_ns / 1000000000)) AND m = ${metric:sqlstring} AND $__fromTime < $__toTime GROUP BY time"
)


def test_interval_follows_the_range() -> None:
    assert [pick_interval(RANGES[r]) for r in ("5m", "15m", "1h", "6h", "24h", "7d", "30d")] == [1, 5, 10, 60, 300, 1800, 7200]
    assert all(pick_interval(s) * 360 >= s for s in range(1, 10**7, 9973))


def test_vitrina_expansion_binds_variables() -> None:
    sql, params = render_vitrina(TEMPLATE, "vitrina", QueryWindow(1000, 4600, 10), {"metric": "x' OR 1=1 --"})
    assert "toStartOfInterval(toDateTime(t), INTERVAL 10 second)" in sql
    assert "FROM vitrina.uploads_1s" in sql
    assert "toDateTime(ts_ns / 1000000000) >= toDateTime(1000) AND toDateTime(ts_ns / 1000000000) <= toDateTime(4600)" in sql
    assert "m = {var_metric:String}" in sql and params == {"var_metric": "x' OR 1=1 --"}
    assert "$__" not in sql and "OR 1=1" not in sql
    minute, _ = render_vitrina(TEMPLATE, "db", QueryWindow(0, 86400, 300), {})
    assert "FROM db.uploads_1m" in minute


def test_grafana_expansion_keeps_the_plugin_macros() -> None:
    sql = render_grafana(TEMPLATE, "vitrina")
    assert "$__timeInterval(t)" in sql and "$__timeFilter(toDateTime(ts_ns / 1000000000))" in sql
    assert "$__fromTime < $__toTime" in sql and "${metric:sqlstring}" in sql
    assert "vitrina.uploads_1s WHERE $__interval_s % 60 != 0 UNION ALL SELECT * FROM vitrina.uploads_1m WHERE $__interval_s % 60 = 0" in sql


def test_declarations_are_checked() -> None:
    with pytest.raises(PanelError):
        Panel("a", "A", "pie", "SELECT 1", ("x",))
    with pytest.raises(PanelError):
        Panel("a", "A", "timeseries", "SELECT 1 AS x", ("x",))  # a time series returns `time` first
    with pytest.raises(PanelError):
        Panel("a", "A", "timeseries", "SELECT now() AS time, 1 AS x", ("time", "x"), control=ControlLimits("y"))
    names = [d.name for d in DASHBOARDS]
    assert names == ["overview", "uploads", "metrics", "quotes", "site", "store", "stability", "alerts"]
    assert any(p.control for d in DASHBOARDS for p in d.panels) and any(p.kind == "alerts" for p in DASHBOARDS[-1].panels)


def test_time_windows() -> None:
    w = parse_window("5m", None, None, now=1000.5)
    assert (w.start, w.end, w.interval_s) == (701, 1001, 1)
    assert parse_window(None, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z").interval_s == 300
    for bad in (("2h", None, None), (None, "10", None), (None, "10", "5"), (None, "yesterday", "10")):
        with pytest.raises(RangeError):
            parse_window(*bad)


def test_alert_rows_from_the_evaluators_table() -> None:
    rules = [
        {
            "name": "R",
            "kind": "threshold",
            "figure": "uploads_failure_rate",
            "for": 0,
            "labels": {"severity": "critical"},
            "instances": [{"labels": {"segment": "RU"}, "state": "firing", "value": 0, "active_since": None}],
        },
        {"name": "quiet", "kind": "threshold", "figure": "quotes_p99", "for": 0, "labels": {}, "instances": []},
    ]
    assert alert_rows(rules) == [
        {
            "name": "R {segment=RU}",
            "state": "firing",
            "severity": "critical",
            "value": 0,
            "since": "",
            "summary": "uploads_failure_rate",
        },
        {"name": "quiet", "state": "inactive", "severity": "", "value": None, "since": "", "summary": "quotes_p99"},
    ]
