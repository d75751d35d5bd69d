"""Dashboards are derived from declarations: thresholds and limits from the alert rules (no
number typed twice), the same figure coloured the same on every page, a page for every stream
with rollups, the Overview over every stream, and dashboards declared in the config file."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from vitrina.alerts.rules import default_rule_specs, load_rules
from vitrina.alerts.settings import AlertSettings
from vitrina.cli.config_file import load_checked
from vitrina.config import ConfigError, Settings
from vitrina.serve.dashboards.catalog import Catalog, build_catalog, catalog_of
from vitrina.serve.dashboards.panels import Dashboard
from vitrina.serve.dashboards.render import QueryWindow, render_grafana, render_vitrina
from vitrina.streams.declare import parse_stream

DASHBOARDS_CODE = Path(__file__).parents[3] / "src" / "vitrina" / "serve" / "dashboards"
# The modules that declare panels (render.py's bucket widths are no thresholds).
DECLARING = ("builtin.py", "generated.py", "declared.py", "sources.py", "catalog.py")
THRESHOLD_RULES = {s["name"]: float(s["value"]) for s in default_rule_specs() if s["kind"] == "threshold"}

ORDERS = {
    "description": "Shop orders.",
    "fields": {
        "shop": {"type": "string", "max_length": 32},
        "amount": {"type": "float", "ge": 0},
        "email": {"type": "string", "pattern": "^[^@]+@[^@]+$", "example": "a@b.example"},
    },
    "rollups": [
        {
            "keys": ["shop"],
            "aggregates": [
                {"name": "orders", "function": "count"},
                {"name": "revenue", "function": "sum", "args": ["amount"]},
                {"name": "big", "function": "count", "where": "amount > 100"},
            ],
            "figures": {"big_share": "if(orders = 0, 0, big / orders)"},
        },
        {"name": "amounts", "keys": [], "aggregates": [{"name": "amount_q", "function": "quantiles", "args": ["amount"]}]},
    ],
}


def settings_with(**sections: Any) -> Settings:
    streams = (parse_stream("orders", ORDERS),)
    return Settings(extra_streams=streams, **sections)


def panels(catalog: Catalog) -> list[tuple[Dashboard, Any]]:
    return [(d, p) for d in catalog.dashboards for p in d.panels]


def test_no_threshold_of_a_rule_is_typed_in_dashboards_code() -> None:
    values = set(THRESHOLD_RULES.values())
    found = []
    for name in DECLARING:
        tree = ast.parse((DASHBOARDS_CODE / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and type(node.value) in (int, float) and float(node.value) in values:
                found.append(f"{name}:{node.lineno}: {node.value!r}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for m in re.finditer(r"[<>]=?\s*(-?\d+(?:\.\d+)?)\b", node.value):
                    if float(m.group(1)) in values:
                        found.append(f"{name}:{node.lineno}: {m.group(0)!r} in a string")
    assert found == [], "a rule's threshold is typed in dashboards code; take it from the rule (Context.limits / Context.rule)"


def test_limits_move_with_the_rules() -> None:
    sentinel = {name: 1000.0 + i + 0.125 for i, name in enumerate(THRESHOLD_RULES)}
    specs = [{**s, "value": sentinel[s["name"]]} for s in default_rule_specs() if s["name"] in sentinel]
    moved = catalog_of(Settings(alerts=AlertSettings(rules=tuple(specs))))
    default = catalog_of(Settings())
    drawn = {t.rule for _, p in panels(default) for t in p.thresholds if t.rule}
    # the rules the dashboards draw, each over the figure it watches
    assert drawn == {"UploadFailureRateHigh", "UploadAttemptTimeHigh", "UploadSellersFew", "QuotesMidPriceHigh"}
    for (_, before), (_, after) in zip(panels(default), panels(moved), strict=True):
        assert [t.rule for t in before.thresholds] == [t.rule for t in after.thresholds]
        for t in after.thresholds:
            assert t.value == (sentinel[t.rule] if t.rule else t.value)
            assert not t.rule or str(THRESHOLD_RULES[t.rule]) not in t.label
        for v in THRESHOLD_RULES.values():  # a rule's number in a query or title moved with it
            assert not re.search(rf"[<>]=?\s*{re.escape(repr(v))}(?![\d.])", after.sql + after.title), (after.id, v)
        # no dashboard's own threshold is a rule's value: it would be a copy
        assert not [t for t in before.thresholds if not t.rule and t.value in THRESHOLD_RULES.values()], before.id
    above = next(p for d, p in panels(moved) if d.name == "quotes" and p.id == "above")
    assert repr(sentinel["QuotesMidPriceHigh"]) in above.sql
    # the Grafana export draws the same lines
    from vitrina.serve.dashboards.grafana import dashboard_json

    doc = dashboard_json(moved.by_name["quotes"], catalog=moved)
    steps = {s["value"] for p in doc["panels"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]}
    assert sentinel["QuotesMidPriceHigh"] in steps and THRESHOLD_RULES["QuotesMidPriceHigh"] not in steps


def test_a_rule_turned_off_takes_its_lines_away() -> None:
    quiet = catalog_of(Settings(alerts=AlertSettings(default_rules=False)))
    assert all(not t.rule for _, p in panels(quiet) for t in p.thresholds)
    assert "above" not in {p.id for p in quiet.by_name["quotes"].panels}


def test_a_figure_is_coloured_alike_on_every_page() -> None:
    by_sql: dict[str, set[Any]] = defaultdict(set)
    by_figure: dict[str, set[Any]] = defaultdict(set)
    for _, p in panels(catalog_of(settings_with())):
        by_sql[p.sql].add(p.thresholds)
        if getattr(p, "figure", ""):
            by_figure[p.figure].add(p.thresholds)
    assert [sql for sql, seen in by_sql.items() if len(seen) > 1] == []
    assert [f for f, seen in by_figure.items() if len(seen) > 1] == []
    assert len(by_figure["uploads:failure_rate"]) == 1 and by_figure["uploads:failure_rate"] != {()}


def test_every_stream_with_rollups_has_a_page_and_an_overview_line() -> None:
    catalog = catalog_of(settings_with())
    page = catalog.by_name["orders"]
    assert page.streams == ("orders",)
    ids = {p.id for p in page.panels}
    # both rollups: the first's aggregates and figure, the named one's quantiles
    assert {"orders", "revenue", "big_share", "orders_series", "by_key"} <= ids and "amounts_amount_q_series" in ids
    sql = {p.id: p.sql for p in page.panels}
    assert "$__rollup(orders.amounts)" in sql["amounts_amount_q_series"] and "$__rollup(orders)" in sql["orders"]
    window = QueryWindow(0, 3600, 10)
    rendered, _ = render_vitrina(sql["amounts_amount_q_series"], "db", window, {}, catalog.streams)
    assert "FROM db.orders_amounts_1s" in rendered
    assert "db.orders_amounts_1m WHERE $__interval_s % 60 = 0" in render_grafana(sql["amounts_amount_q_series"], "db", catalog.streams)
    overview = catalog.by_name["overview"]
    for pid in ("events", "throughput", "by_stream", "streams"):
        assert "'orders' AS stream" in overview.panel(pid).sql, pid
    # the built-in streams keep their own pages; the list of pages only grows by the new stream
    assert [d.name for d in catalog.dashboards] == [
        "overview",
        "uploads",
        "metrics",
        "quotes",
        "site",
        "store",
        "stability",
        "alerts",
        "orders",
    ]
    guide = {g["stream"]: g["curl"] for g in catalog.guide()}
    assert set(guide) == set(catalog.streams) and '"email": "a@b.example"' in guide["orders"]


def test_a_stream_named_like_a_page_gets_its_own_name() -> None:
    catalog = build_catalog({**Settings().streams, "alerts": parse_stream("alerts", ORDERS)}, load_rules(AlertSettings()))
    assert catalog.by_name["alerts-stream"].streams == ("alerts",) and catalog.by_name["alerts"].title == "Alerts"


SHOP = """
[streams.orders]
description = "Shop orders."
[streams.orders.fields]
shop = { type = "string", max_length = 32 }
amount = { type = "float", ge = 0 }
[[streams.orders.rollups]]
keys = ["shop"]
aggregates = [{ name = "orders", function = "count" }, { name = "revenue", function = "sum", args = ["amount"] }]

[[alerts.rules]]
name = "RevenueLow"
kind = "threshold"
figure = "vitrina_upload_attempts"
op = "<"
value = 7.5

[dashboards.shop]
title = "Shop"
description = "Orders and revenue."
[[dashboards.shop.panels]]
id = "revenue"
kind = "stat"
stream = "orders"
figure = "revenue"
unit = "currencyUSD"
rule = "RevenueLow"
[[dashboards.shop.panels]]
id = "orders_series"
title = "Orders per bucket"
stream = "orders"
figure = "orders"
control = true
[[dashboards.shop.panels]]
id = "by_shop"
kind = "bar"
sql = "SELECT shop, countMerge(orders) AS n FROM $__rollup(orders) WHERE $__timeFilter(t) GROUP BY shop ORDER BY shop"
columns = ["shop", "n"]
"""


def test_dashboards_declared_in_the_config(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(SHOP)
    catalog = catalog_of(load_checked(path))
    shop = catalog.by_name["shop"]
    assert (shop.title, [p.id for p in shop.panels]) == ("Shop", ["revenue", "orders_series", "by_shop"])
    revenue = shop.panel("revenue")
    assert revenue.unit == "currencyUSD" and [(t.value, t.above, t.rule) for t in revenue.thresholds] == [(7.5, False, "RevenueLow")]
    assert "sumMerge(`revenue`) AS revenue" in revenue.sql and "FROM $__rollup(orders)" in revenue.sql
    assert shop.panel("orders_series").control is not None


@pytest.mark.parametrize(
    ("panel", "message"),
    [
        ('id = "x"\nstream = "orders"\nfigure = "nope"', "stream 'orders' has no rollup figure 'nope'; figures: orders, revenue"),
        ('id = "x"\nstream = "nope"\nfigure = "orders"', "`stream` must be a stream with rollups"),
        ('id = "x"\nkind = "pie"\nstream = "orders"\nfigure = "orders"', "kind is one of"),
        ('id = "x"\nsql = "SELECT 1 AS a"', "`sql` needs `columns`"),
        ('id = "x"\nsql = "SELECT 1 AS a FROM $__rollup(nope)"\ncolumns = ["a"]', "$__rollup(nope): no stream with rollups named 'nope'"),
        ('id = "x"\nsql = "SELECT $__nope AS a"\ncolumns = ["a"]', "unknown macro $__nope"),
        ('id = "x"\nstream = "orders"\nfigure = "orders"\nrule = "Nope"', "`rule` must name a threshold alert rule"),
        ('id = "x"\nstream = "orders"\nfigure = "orders"\ncolour = "red"', "unknown keys ['colour']"),
        ('id = "x"\nstream = "orders"\nfigure = "orders"\nsql = "SELECT 1 AS a"\ncolumns = ["a"]', "either `stream` and `figure` or `sql`"),
        ('id = "X Y"\nstream = "orders"\nfigure = "orders"', "panel id 'X Y' must match"),
        ('id = "x"\nstream = "orders"\nfigure = "orders"\nwidth = 30', "width is 1..24"),
    ],
)
def test_declared_dashboard_errors_name_the_problem(tmp_path: Path, panel: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(SHOP.split("[dashboards.shop]")[0] + f"[dashboards.mine]\n[[dashboards.mine.panels]]\n{panel}\n")
    with pytest.raises(ConfigError) as err:
        load_checked(path)
    assert "[dashboards.mine]" in str(err.value) and message in str(err.value)


def test_a_declared_dashboard_cannot_take_a_pages_name(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[dashboards.uploads]\n[[dashboards.uploads.panels]]\nid = "x"\nstream = "uploads"\nfigure = "attempts"\n')
    with pytest.raises(ConfigError, match=r"\[dashboards.uploads\]: a dashboard of that name exists already"):
        load_checked(path)
