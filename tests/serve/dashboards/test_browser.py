"""The built-in dashboard in a real browser (Debian's Chromium driven by Playwright) against a real
`vitrina up` fed by the simulator: every page loads cleanly and shows the data, the time range,
refresh interval, metric picker and theme work without reloading, and a control chart marks an
injected outlier. Screenshots go to artifacts/screenshots/ (kept by CI)."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.conftest import ROOT, VitrinaProcess
from vitrina.alerts.rules import load_rules
from vitrina.alerts.settings import AlertSettings
from vitrina.serve.dashboards.grafana import default_catalog

SHOTS = ROOT / "artifacts" / "screenshots"
DASHBOARDS = default_catalog().dashboards
QUOTE_THRESHOLD = next(r.value for r in load_rules(AlertSettings()) if r.name == "QuotesMidPriceHigh")
DEADLINE_MS = 20_000


class Watched:
    """A page with its console errors and uncaught exceptions collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.set_default_timeout(DEADLINE_MS)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text}")

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.wait_loads(1)

    def loads(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.loads || 0)"))

    def wait_loads(self, n: int) -> None:
        self.page.wait_for_function(f"Number(document.body.dataset.loads || 0) >= {n}", timeout=DEADLINE_MS)

    def traces(self, panel: str) -> list[dict[str, Any]]:
        return list(
            self.page.evaluate(
                f"document.querySelector('#panel-{panel} .js-plotly-plot').data.map(t => ({{name: t.name, x: t.x, y: t.y}}))"
            )
        )


def _stat(w: Watched, panel: str) -> tuple[str, float]:
    el = w.page.locator(f"#panel-{panel} .stat")
    expect(el).not_to_have_text("–")
    return el.inner_text(), float(el.get_attribute("data-value") or "nan")


def test_every_dashboard_loads_and_shows_the_data(fed: VitrinaProcess, watched: Watched) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for d in DASHBOARDS:
        watched.open(f"{fed.url}/d/{d.name}?range=5m&refresh=0")
        page = watched.page
        expect(page.locator("#tabs a.active")).to_have_text(d.title)
        for p in d.panels:
            panel = page.locator(f"#panel-{p.id}")
            expect(panel.locator(".panel-error")).to_have_count(0)
            if p.kind in ("timeseries", "bar", "histogram"):
                expect(panel.locator(".js-plotly-plot")).to_have_count(1)
        page.screenshot(path=str(SHOTS / f"{d.name}.png"), full_page=True)
    assert watched.errors == []

    # The figures drawn are the figures stored: the uploads stat against the raw table ...
    watched.open(f"{fed.url}/d/uploads?range=5m&refresh=0")
    start, end = (int(watched.page.evaluate(f"document.body.dataset.{k}")) for k in ("from", "to"))
    stored = fed.scalar(f"SELECT count() FROM vitrina.uploads WHERE toDateTime(ts_ns / 1000000000) BETWEEN {start} AND {end}")
    text, value = _stat(watched, "attempts")
    assert value == stored > 0 and text == f"{stored:,}"
    # The failure rate is the upload monitor's, per item: the share of the items first seen in
    # the range that no attempt created (its attempt_create_time table, written out here).
    failure_text, failure = _stat(watched, "failure")
    per_item = (
        "SELECT sum(if(is_created, 0, 1)) / count() FROM (SELECT item_id, min(ts_ns) AS first, max(is_created) AS is_created "
        f"FROM vitrina.uploads GROUP BY item_id HAVING first >= {start} * 1000000000 AND first < ({end} + 1) * 1000000000)"
    )
    assert abs(failure - fed.scalar(per_item)) < 1e-9 and failure_text.endswith("%")
    bad = re.compile(r"\bbad\b")
    stat = expect(watched.page.locator("#panel-failure .stat"))
    if failure > 0.5:  # past the UploadFailureRateHigh threshold the stat turns red
        stat.to_have_class(bad)
    else:
        stat.not_to_have_class(bad)
    # The quotes' alert level is drawn as a line on the mid-price chart.
    watched.open(f"{fed.url}/d/quotes?range=5m&refresh=0")
    shapes = watched.page.evaluate("document.querySelector('#panel-mid .js-plotly-plot').layout.shapes.map(s => s.y0)")
    assert shapes == [QUOTE_THRESHOLD]
    # ... and a chart's traces: one per stream, carrying the events the simulator sent.
    watched.open(f"{fed.url}/d/overview?range=15m&refresh=0")
    traces = {t["name"]: t for t in watched.traces("throughput")}
    assert {"metrics", "uploads", "quotes", "site_events", "store_events", "probes"} <= set(traces)
    assert all(sum(v or 0 for v in traces[s]["y"]) > 0 for s in traces)
    # The alert list: the rules with their states, or "no alert rules" without an alerts module.
    watched.open(f"{fed.url}/d/alerts?range=15m&refresh=0")
    answer = httpx.get(f"{fed.url}/v1/alerts")
    if answer.status_code == 404:
        expect(watched.page.locator("#panel-alert_list")).to_contain_text("no alert rules")
    else:
        for rule in answer.json():
            expect(watched.page.locator("#panel-alert_list tbody")).to_contain_text(rule["name"])
    assert watched.errors == []


def test_time_range_refresh_metric_and_theme_without_reload(fed: VitrinaProcess, watched: Watched) -> None:
    page = watched.page
    watched.open(f"{fed.url}/d/metrics?range=1h&refresh=0")
    page.evaluate("window.notReloaded = true")

    page.select_option("#range", "5m")
    page.wait_for_function("document.body.dataset.range === '5m' && document.body.dataset.to - document.body.dataset.from === 300")
    span = page.evaluate(
        "(() => { const r = document.querySelector('#panel-value .js-plotly-plot').layout.xaxis.range;"
        " return (Date.parse(r[1] + 'Z') - Date.parse(r[0] + 'Z')) / 1000; })()"
    )
    assert span == 300
    assert "range=5m" in page.url

    # A custom range, typed in UTC.
    end = int(time.time())
    iso = lambda s: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))  # noqa: E731
    page.select_option("#range", "custom")
    page.fill("#from", iso(end - 600))
    page.fill("#to", iso(end))
    page.click("#apply")
    page.wait_for_function(f"document.body.dataset.from === '{end - 600}' && document.body.dataset.to === '{end}'")

    # The metric picker: another metric, and the panels follow it.
    options = page.locator("#var-metric option").all_inner_texts()
    assert len(options) >= 2
    page.select_option("#var-metric", options[1])
    expect(page.locator("#var-metric")).to_have_value(options[1])
    expected = fed.scalar(
        f"SELECT count() FROM vitrina.metrics WHERE metric_name = '{options[1]}' AND toDateTime(time) BETWEEN {end - 600} AND {end}"
    )
    expect(page.locator("#panel-count .stat")).to_have_attribute("data-value", str(expected))
    assert f"var-metric={options[1]}" in page.url

    # Auto-refresh: back to a range that ends now; new events show up on their own, and the
    # page stays the same page.
    page.select_option("#range", "5m")
    page.wait_for_function("document.body.dataset.range === '5m'")
    before = watched.loads()
    page.select_option("#refresh", "1")
    watched.wait_loads(before + 2)
    shown = int(page.locator("#panel-count .stat").get_attribute("data-value") or 0)
    assert fed.post("/v1/streams/metrics", [{"metric_name": options[1], "metric_value": 1.5}] * 7).status_code == 200
    expect(page.locator("#panel-count .stat")).to_have_attribute("data-value", str(shown + 7))
    assert "refresh=1" in page.url
    page.select_option("#refresh", "0")
    assert page.evaluate("window.notReloaded") is True

    # Themes.
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.click("#theme")
    page.wait_for_function("document.documentElement.dataset.theme === 'light'")
    page.screenshot(path=str(SHOTS / "metrics-light.png"), full_page=True)
    assert watched.errors == []


def test_control_chart_marks_an_injected_outlier(fed: VitrinaProcess, watched: Watched) -> None:
    # A minute of ordinary uploads (10-20 s to go live), then one second of extreme ones.
    now = int(time.time())
    ordinary = [
        {
            "ts_ns": (now - 70 + s) * 10**9,
            "item_id": 5_000_000_000 + s * 10 + k,
            "company_id": 4242,
            "category_id": 1,
            "origin": "upload/api",
            "event": "SAVE",
            "is_created": 1,
            "up_ts": (now - 70 + s) * 10**9 + (10 + (s + k) % 11) * 10**9,
        }
        for s in range(60)
        for k in range(5)
    ]
    assert fed.post("/v1/streams/uploads", ordinary).status_code == 200
    outlier_at = now - 5
    extreme = [
        {**ordinary[0], "item_id": 6_000_000_000 + k, "ts_ns": outlier_at * 10**9, "up_ts": (outlier_at + 1500) * 10**9} for k in range(40)
    ]
    assert fed.post("/v1/streams/uploads", extreme).status_code == 200

    watched.open(f"{fed.url}/d/uploads?range=5m&refresh=0")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(outlier_at))
    traces = {t["name"]: t for t in watched.traces("attempt_control")}
    assert {"attempt_s", "CL (mean)", "beyond limits"} <= set(traces) and any(n.startswith("UCL") for n in traces)
    marked = traces["beyond limits"]
    assert stamp in marked["x"], (stamp, marked)
    assert min(marked["y"]) > traces["CL (mean)"]["y"][0]
    ucl = next(t for n, t in traces.items() if n.startswith("UCL"))["y"][0]
    assert marked["y"][marked["x"].index(stamp)] > ucl
    watched.page.locator("#panel-attempt_control").screenshot(path=str(SHOTS / "uploads-control-chart.png"))
    assert watched.errors == []
