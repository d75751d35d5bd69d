"""The dashboard for everyday use, in real Chromium against a real `vitrina up` fed by the
simulator: at phone (390x844) and desktop (1280x800) sizes the grid is one column or many,
stat values are whole and legends never cover a plot; the Explore page runs read-only SQL
through /v1/sql, draws its table and chart and downloads them as CSV and PNG; every panel
offers its data as CSV and its chart as PNG; the live tail shows a stream's newest events
and rejects with their reasons as they come; a fresh install's first range fits its data.
Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Download, expect

from tests.conftest import VitrinaProcess, wait_until
from tests.serve.dashboards.test_browser import SHOTS, Watched

SIZES = {"phone": (390, 844), "desktop": (1280, 800)}


def page_at(browser: Browser, size: str) -> Iterator[Watched]:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    yield Watched(context.new_page())
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Watched]:
    yield from page_at(browser, "phone")


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Watched]:
    yield from page_at(browser, "desktop")


def boxes(w: Watched, selector: str) -> list[dict[str, float]]:
    return list(w.page.evaluate(f"[...document.querySelectorAll({selector!r})].map(e => e.getBoundingClientRect().toJSON())"))


def legend_overlaps(w: Watched) -> list[str]:
    """Charts whose legend box meets their plot area (plotly's drag layer spans the plot area)."""
    return list(
        w.page.evaluate(
            """[...document.querySelectorAll('.js-plotly-plot')].flatMap(div => {
                 const legend = div.querySelector('g.legend'), plot = div.querySelector('.nsewdrag');
                 if (!legend || !plot) return [];
                 const a = legend.getBoundingClientRect(), b = plot.getBoundingClientRect();
                 const meet = a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
                 return meet ? [div.closest('section').id] : [];
               })"""
        )
    )


def clipped_stats(w: Watched) -> list[str]:
    return list(
        w.page.evaluate(
            """[...document.querySelectorAll('.stat')].filter(s => s.scrollWidth > s.clientWidth + 1
                 || parseFloat(getComputedStyle(s).fontSize) < 18).map(s => s.closest('section').id)"""
        )
    )


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name", ["overview", "uploads", "metrics"])
def test_layout_at_phone_and_desktop_width(fed: VitrinaProcess, browser: Browser, size: str, name: str) -> None:
    w = next(page_at(browser, size))
    w.open(f"{fed.url}/d/{name}?range=5m&refresh=0")
    w.page.wait_for_function("document.querySelectorAll('.js-plotly-plot .nsewdrag').length > 0")
    grid = w.page.locator("#grid").bounding_box()
    assert grid is not None
    panels = boxes(w, "#grid .panel")
    lefts = {round(p["x"]) for p in panels}
    if size == "phone":  # one column: every panel starts at the same x and fills the grid's width
        assert len(lefts) == 1 and all(p["width"] >= grid["width"] - 40 for p in panels), panels
        assert max(p["right"] for p in panels) <= SIZES["phone"][0]  # nothing sideways off screen
    else:
        assert len(lefts) > 1, panels
    assert w.page.evaluate("document.documentElement.scrollWidth") <= SIZES[size][0]
    assert clipped_stats(w) == []
    assert legend_overlaps(w) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    w.page.screenshot(path=str(SHOTS / f"{size}-{name}.png"), full_page=True)
    assert w.errors == []


def read_download(download: Download) -> bytes:
    path = download.path()
    assert path is not None
    return Path(path).read_bytes()


def test_explore_runs_sql_draws_and_downloads(fed: VitrinaProcess, desktop: Watched) -> None:
    page = desktop.page
    query = (
        "SELECT metric_name, count() AS events, round(sum(metric_value), 3) AS total FROM metrics GROUP BY metric_name ORDER BY metric_name"
    )
    server = httpx.post(f"{fed.url}/v1/sql", json={"query": query}, timeout=60).json()
    assert server["rows"] >= 2
    page.goto(f"{fed.url}/explore")
    expect(page.locator("#tabs a.active")).to_have_text("Explore")
    page.fill("#explore-sql", query)
    page.click("#explore-run")
    page.wait_for_function("document.body.dataset.explored === '1'")
    cells = page.locator("#explore-table tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert cells == [[d["metric_name"], str(d["events"]), str(d["total"])] for d in server["data"]]
    traces = page.evaluate("document.querySelector('#explore-chart').data.map(t => ({name: t.name, x: t.x, y: t.y}))")
    assert [t["name"] for t in traces] == ["events", "total"]
    assert traces[0]["x"] == [d["metric_name"] for d in server["data"]] and traces[0]["y"] == [d["events"] for d in server["data"]]

    with page.expect_download() as got:
        page.click("#explore-csv")
    rows = list(csv.DictReader(io.StringIO(read_download(got.value).decode())))
    assert [(r["metric_name"], int(r["events"]), float(r["total"])) for r in rows] == [
        (d["metric_name"], d["events"], d["total"]) for d in server["data"]
    ]
    with page.expect_download() as png:
        page.click("#explore-png")
    assert read_download(png.value).startswith(b"\x89PNG\r\n\x1a\n")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "explore.png"), full_page=True)

    # the same guard as /v1/sql: a write is refused with its reason, and nothing is drawn
    page.fill("#explore-sql", "DROP TABLE metrics")
    page.click("#explore-run")
    page.wait_for_function("document.body.dataset.explored === 'error'")
    expect(page.locator("#explore-status")).to_contain_text("DROP")
    expect(page.locator("#explore-table tr")).to_have_count(0)
    assert httpx.post(f"{fed.url}/v1/sql", content=b"SELECT count() FROM metrics", timeout=60).json()["data"][0]["count()"] > 0
    # the query is in the URL: a link opens and runs it
    page.goto(f"{fed.url}/explore?sql=" + httpx.QueryParams({"q": "SELECT 1 AS one, 2 AS two"})["q"])
    page.wait_for_function("document.body.dataset.explored === '1'")
    expect(page.locator("#explore-table tbody td").first).to_have_text("1")
    assert [e for e in desktop.errors if "403" not in e] == []  # the refused query's answer is logged by the browser


def test_panels_export_csv_and_png(fed: VitrinaProcess, desktop: Watched) -> None:
    page = desktop.page
    desktop.open(f"{fed.url}/d/overview?range=15m&refresh=0")
    start, end = (page.evaluate(f"document.body.dataset.{k}") for k in ("from", "to"))
    answer = httpx.get(f"{fed.url}/v1/dashboards/overview/data", params={"from": start, "to": end}, timeout=60).json()
    for panel in ("by_stream", "streams"):
        res = answer["panels"][panel]
        assert res["rows"] > 0, panel
        with page.expect_download() as got:
            page.locator(f"#panel-{panel} .export-csv").click()
        assert got.value.suggested_filename == f"{panel}.csv"
        rows = list(csv.reader(io.StringIO(read_download(got.value).decode())))
        assert rows[0] == res["columns"]
        expected = [["" if v is None else str(v) for v in (res["values"][c][i] for c in res["columns"])] for i in range(res["rows"])]
        assert [[str(float(c)) if _number(c) else c for c in r] for r in rows[1:]] == [
            [str(float(c)) if _number(c) else c for c in r] for r in expected
        ]
    with page.expect_download() as png:
        page.locator("#panel-by_stream .export-png").click()
    data = read_download(png.value)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 2000
    assert page.locator("#panel-streams .export-png").count() == 0  # a table has no chart to save
    assert desktop.errors == []


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_live_tail_shows_new_events_and_rejects(fed: VitrinaProcess, phone: Watched) -> None:
    page = phone.page
    page.goto(f"{fed.url}/tail?stream=metrics&refresh=1")
    page.wait_for_function("Number(document.body.dataset.tails || 0) >= 1")
    marker = f"tail_{time.time_ns()}"
    sent = httpx.post(
        f"{fed.url}/v1/streams/metrics", json=[{"metric_name": marker, "metric_value": 1.5}, {"metric_name": marker, "metric_value": "x"}]
    )
    assert sent.status_code == 200 and len(sent.json()["rejected"]) == 1
    fed.settle()
    # newest first: the marker is the first row of events, and the reject's reason is shown
    expect(page.locator("#tail-events tbody tr").first).to_contain_text(marker, timeout=20_000)
    reject = page.locator("#tail-rejects tbody tr").first
    expect(reject).to_contain_text(marker)
    expect(reject.locator("td.reason")).to_contain_text("metric_value")
    api = httpx.get(f"{fed.url}/v1/tail/metrics", params={"limit": 5}, timeout=30).json()
    assert api["events"]["rows"][0]["metric_name"] == marker and marker in api["rejects"]["rows"][0]["raw"]
    page.select_option("#tail-stream", "uploads")
    page.wait_for_function(
        "document.querySelector('#tail-events th') && !document.querySelector('#tail-events').textContent.includes('metric_name')"
    )
    assert "tail?stream=uploads" in page.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "phone-tail.png"), full_page=True)
    assert phone.errors == []


def test_a_fresh_install_opens_on_a_range_that_fits_its_data(make_vitrina: Any, desktop: Watched) -> None:
    v = make_vitrina("[models]\nenabled = false\n[alerts]\nenabled = false\n")
    assert v.post("/v1/streams/metrics", [{"metric_name": "fresh", "metric_value": 1}]).status_code == 200
    desktop.open(f"{v.url}/")
    assert desktop.page.input_value("#range") == "5m"
    wait_until(lambda: "range=5m" in desktop.page.url, 10, "the range in the URL")
    start, end = (int(desktop.page.evaluate(f"document.body.dataset.{k}")) for k in ("from", "to"))
    assert end - start == 300
    assert desktop.errors == []
