"""A user-declared stream on a real `vitrina up`: its page generated from its declaration, its line
on the Overview, a dashboard and a model declared in the config file; every panel of every page
answers without error (both rollup tables); stats over a range divide by the time that has
data; the metric picker sorts naturally. Browser checks in Debian's Chromium, screenshots in
artifacts/screenshots/."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import VitrinaProcess
from tests.serve.dashboards.test_browser import SHOTS, Watched

CONFIG = """
[models]
enabled = false
[alerts]
enabled = false

[streams.orders]
description = "Shop orders: one per checkout."
[streams.orders.fields]
shop = { type = "string", max_length = 32, low_cardinality = true }
amount = { type = "float", ge = 0 }
[[streams.orders.rollups]]
keys = ["shop"]
aggregates = [
  { name = "orders", function = "count" },
  { name = "revenue", function = "sum", args = ["amount"] },
  { name = "big", function = "count", where = "amount > 100" },
  { name = "amount_q", function = "quantiles", args = ["amount"] },
]
figures = { big_share = "if(orders = 0, 0, big / orders)" }

[dashboards.shop]
title = "Shop"
[[dashboards.shop.panels]]
id = "revenue"
kind = "stat"
stream = "orders"
figure = "revenue"
unit = "currencyUSD"
width = 8
[[dashboards.shop.panels]]
id = "orders_series"
title = "Orders per bucket"
stream = "orders"
figure = "orders"
width = 16
[[dashboards.shop.panels]]
id = "by_shop"
kind = "bar"
sql = "SELECT shop, countMerge(orders) AS n FROM $__rollup(orders) WHERE $__timeFilter(t) GROUP BY shop ORDER BY shop"
columns = ["shop", "n"]
width = 24

[models.orders_daily]
description = "Orders and revenue per day and shop."
time = "day"
order_by = "shop, day"
cadence = "1.5m"
sql = '''
SELECT toDate(time) AS day, shop, count() AS orders, sum(amount) AS revenue
FROM $db.orders WHERE time >= $start AND time < $end GROUP BY day, shop'''
"""
SHOPS = ("north", "south", "east")


@pytest.fixture(scope="module")
def shop() -> Iterator[VitrinaProcess]:
    folder = Path(tempfile.mkdtemp(prefix="vitrina-userstream-"))
    config = folder / "config.toml"
    config.write_text(CONFIG)
    v = VitrinaProcess(folder / "data", config).start()
    try:
        now = time.time()
        # 40 s of orders ending now, the first 40 minutes after the range's start were empty
        orders = [{"time": now - 40 + i * 0.25, "shop": SHOPS[i % 3], "amount": float(10 + (i * 37) % 150)} for i in range(160)]
        assert v.post("/v1/streams/orders", orders).status_code == 200
        metrics = [{"metric_name": f"metric_{n}", "metric_value": 1.0} for n in (10, 2, 1, 33, 3)]
        assert v.post("/v1/streams/metrics", metrics).status_code == 200
        yield v
    finally:
        if v.proc is not None:
            v.stop()
        shutil.rmtree(folder, ignore_errors=True)


def data(v: VitrinaProcess, name: str, **params: str) -> dict[str, Any]:
    resp = httpx.get(f"{v.url}/v1/dashboards/{name}/data", params=params, timeout=60)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_every_panel_of_every_page_answers(shop: VitrinaProcess) -> None:
    listed = [d["name"] for d in httpx.get(f"{shop.url}/v1/dashboards").json()]
    assert listed == ["overview", "uploads", "metrics", "quotes", "site", "store", "stability", "alerts", "orders", "shop"]
    for name in listed:
        for span in ("15m", "6h"):  # 5 s buckets read the 1 s rollups, 60 s buckets the 1 min ones
            body = data(shop, name, range=span)
            errors = {pid: p["error"] for pid, p in body["panels"].items() if "error" in p}
            assert errors == {}, (name, span)
    page = data(shop, "orders", range="15m")["panels"]
    stored = shop.scalar("SELECT count() FROM vitrina.orders")
    assert page["orders"]["values"]["orders"] == [stored] == [160]
    assert page["revenue"]["values"]["revenue"] == [shop.scalar("SELECT sum(amount) FROM vitrina.orders")]
    assert page["big_share"]["values"]["big_share"] == [
        pytest.approx(shop.scalar("SELECT countIf(amount > 100) / count() FROM vitrina.orders"))
    ]
    assert sorted(page["by_key"]["values"]["shop"]) == sorted(SHOPS)
    assert set(page["amount_q_series"]["columns"]) == {"time", "p50", "p90", "p99"}
    lines = data(shop, "overview", range="15m")["panels"]["streams"]["values"]
    assert lines["events"][lines["stream"].index("orders")] == 160


def test_rates_over_a_range_divide_by_the_time_with_data(shop: VitrinaProcess) -> None:
    per_s = data(shop, "orders", range="1h")["panels"]["per_s"]["values"]["per_s"][0]
    first, last = shop.sql("SELECT toUInt32(min(time)) AS a, toUInt32(max(time)) AS b FROM vitrina.orders")[0].values()
    assert per_s == pytest.approx(160 / (last - first + 1))  # about 4/s, not 160 / 3600
    overview = data(shop, "overview", range="1h")["panels"]["streams"]["values"]
    assert overview["per_s"][overview["stream"].index("orders")] == pytest.approx(per_s)


def test_a_model_declared_in_the_config_runs(shop: VitrinaProcess) -> None:
    listed = httpx.get(f"{shop.url}/v1/models").json()
    mine = next(m for m in listed if m["name"] == "orders_daily")
    assert mine["cadence_s"] == 90
    resp = shop.post("/v1/models/run", {"names": ["orders_daily"]})
    assert resp.status_code == 200 and [r["status"] for r in resp.json()] == ["ok"], resp.text
    got = shop.sql("SELECT shop, sum(orders) AS n, round(sum(revenue), 6) AS r FROM vitrina.orders_daily GROUP BY shop ORDER BY shop")
    expected = shop.sql("SELECT shop, count() AS n, round(sum(amount), 6) AS r FROM vitrina.orders GROUP BY shop ORDER BY shop")
    assert got == expected and len(got) == 3


def test_the_user_streams_page_and_overview_line_in_a_browser(shop: VitrinaProcess, watched: Watched) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = watched.page
    watched.open(f"{shop.url}/d/orders?range=15m&refresh=0")
    expect(page.locator("#tabs a.active")).to_have_text("orders")
    expect(page.locator("#panel-orders .stat")).to_have_attribute("data-value", "160")
    expect(page.locator("#panel-orders .stat")).to_have_text("160")
    expect(page.locator(".panel-error")).to_have_count(0)
    traces = {t["name"] for t in watched.traces("orders_series")}
    assert traces == set(SHOPS)  # one trace per key of the rollup
    page.screenshot(path=str(SHOTS / "user-stream-orders.png"), full_page=True)

    watched.open(f"{shop.url}/d/overview?range=15m&refresh=0")
    expect(page.locator("#panel-streams tbody")).to_contain_text("orders")
    traces = {t["name"]: t for t in watched.traces("throughput")}
    assert sum(v or 0 for v in traces["orders"]["y"]) > 0
    bars = page.evaluate("document.querySelector('#panel-by_stream .js-plotly-plot').data[0]")
    assert bars["y"][bars["x"].index("orders")] == 160
    page.screenshot(path=str(SHOTS / "user-stream-overview.png"), full_page=True)

    watched.open(f"{shop.url}/d/shop?range=15m&refresh=0")
    expect(page.locator("#tabs a.active")).to_have_text("Shop")
    expect(page.locator(".panel-error")).to_have_count(0)
    expect(page.locator("#panel-revenue .stat")).to_contain_text("$")
    page.screenshot(path=str(SHOTS / "config-dashboard-shop.png"), full_page=True)
    assert watched.errors == []


def test_the_metric_picker_sorts_naturally(shop: VitrinaProcess, watched: Watched) -> None:
    watched.open(f"{shop.url}/d/metrics?range=15m&refresh=0")
    options = watched.page.locator("#var-metric option").all_inner_texts()
    assert options == ["metric_1", "metric_2", "metric_3", "metric_10", "metric_33"]
    assert watched.errors == []


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[VitrinaProcess]:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    v = VitrinaProcess(tmp_path / "data", config).start()
    yield v
    if v.proc is not None:
        v.stop()


def test_an_empty_install_shows_how_to_send_a_first_event(empty: VitrinaProcess, watched: Watched) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = watched.page
    watched.open(f"{empty.url}/?refresh=1")
    expect(page.locator("#guide")).to_be_visible()
    expect(page.locator("#guide h2")).to_have_text("Waiting for your first event")
    expect(page.locator("#grid")).to_be_hidden()  # no zeros, no empty axes
    lines = {el.get_attribute("data-stream"): el.inner_text() for el in page.locator("#guide pre").all()}
    assert set(lines) == {"metrics", "uploads", "quotes", "site_events", "store_events", "probes", "orders"}
    assert all(line.startswith(f"curl -sS -X POST '{empty.url}/v1/streams/{s}'") for s, line in lines.items())
    page.screenshot(path=str(SHOTS / "empty-install-guide.png"), full_page=True)

    # Each line, run as it is shown, sends a valid event.
    sent = subprocess.run(["sh", "-c", lines["metrics"]], capture_output=True, text=True, timeout=30)
    assert sent.returncode == 0 and '"accepted":1' in sent.stdout, sent.stdout + sent.stderr
    expect(page.locator("#guide")).to_be_hidden()  # the next refresh shows the data instead
    expect(page.locator("#grid")).to_be_visible()
    for stream, line in lines.items():
        if stream != "metrics":
            done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=30)
            assert done.returncode == 0 and '"accepted":1' in done.stdout, (stream, done.stdout + done.stderr)
    assert empty.scalar("SELECT count() FROM vitrina.site_events WHERE dt > now() - INTERVAL 1 MINUTE") == 1  # sent with `date`'s now

    # A share with no data yet: no value, and an axis of 0 .. 100 %.
    fresh = VitrinaProcess(empty.data_dir.parent / "fresh", empty.config).start()
    try:
        assert fresh.post("/v1/streams/metrics", [{"metric_name": "m", "metric_value": 1}]).status_code == 200
        watched.open(f"{fresh.url}/d/uploads?range=5m&refresh=0")
        expect(page.locator("#guide")).to_be_hidden()
        expect(page.locator("#panel-failure .stat")).to_have_text("–")
        axis = page.evaluate("document.querySelector('#panel-failure_rate .js-plotly-plot').layout.yaxis.range")
        assert axis == [0, 1]
        page.screenshot(path=str(SHOTS / "uploads-before-first-upload.png"), full_page=True)
    finally:
        fresh.stop()
    assert watched.errors == []


def test_the_grafana_export_of_a_config_has_its_pages_and_their_queries_run(shop: VitrinaProcess, tmp_path: Path) -> None:
    import json

    from tests.conftest import cli
    from tests.serve.dashboards.test_grafana import expand_like_plugin

    assert shop.config is not None
    done = cli("grafana", "export", str(tmp_path), "--config", str(shop.config))
    assert done.returncode == 0, done.stderr
    end = int(time.time()) + 1
    for name in ("orders", "shop", "overview"):
        doc = json.loads((tmp_path / "dashboards" / f"vitrina-{name}.json").read_text())
        assert doc["uid"] == f"vitrina-{name}"
        for panel in doc["panels"]:
            if "targets" not in panel:
                continue
            for interval in (15, 60):
                query = expand_like_plugin(panel["targets"][0]["rawSql"], end - 3600, end, interval, {})
                resp = httpx.post(f"{shop.url}/v1/sql", content=query.encode(), timeout=60)
                assert resp.status_code == 200, (name, panel["title"], resp.text)
    overview = json.loads((tmp_path / "dashboards" / "vitrina-overview.json").read_text())
    link = next(lk for lk in overview["links"] if lk["title"] == "orders")
    assert {"title": "orders", "url": "/d/vitrina-orders"}.items() <= link.items()
