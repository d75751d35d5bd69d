"""The dashboard's HTTP side: the page and its files come from vitrina itself (offline, no CDN),
the data endpoint's answers and errors."""

from __future__ import annotations

import re

import httpx

from tests.conftest import VitrinaProcess


def test_page_and_files_are_served_locally(fed: VitrinaProcess) -> None:
    page = httpx.get(f"{fed.url}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith(("/", "data:")) for s in sources), sources  # nothing from another host
    for src in (s for s in sources if s.startswith("/")):
        assert httpx.get(f"{fed.url}{src}").status_code == 200, src
    plotly = httpx.get(f"{fed.url}/dashboards/static/plotly.min.js")
    assert len(plotly.content) > 1_000_000 and b"plotly" in plotly.content[:2000].lower()
    assert httpx.get(f"{fed.url}/dashboards/static/index.html").status_code == 404  # only the listed files
    assert httpx.get(f"{fed.url}/d/stability").text == page.text
    assert httpx.get(f"{fed.url}/d/nope", follow_redirects=False).status_code == 307


def test_data_endpoint(fed: VitrinaProcess) -> None:
    listed = httpx.get(f"{fed.url}/v1/dashboards").json()
    assert [d["name"] for d in listed] == ["overview", "uploads", "metrics", "quotes", "site", "store", "stability", "alerts"]
    body = httpx.get(f"{fed.url}/v1/dashboards/uploads/data", params={"range": "15m", "panels": "attempts,attempt_control"}).json()
    assert set(body["panels"]) == {"attempts", "attempt_control"}
    assert body["range"]["to"] - body["range"]["from"] == 900 and body["range"]["interval_s"] == 5
    control = body["panels"]["attempt_control"]
    assert control["columns"] == ["time", "attempt_s", "cl_mean", "cl_upper", "cl_lower", "cl_beyond"] and control["rows"] > 0
    custom = httpx.get(f"{fed.url}/v1/dashboards/overview/data", params={"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"})
    assert custom.status_code == 200 and custom.json()["panels"]["events"]["values"]["events"] in ([0], [None])
    bad = httpx.get(f"{fed.url}/v1/dashboards/uploads/data", params={"range": "2h"})
    assert bad.status_code == 400 and bad.json()["error"] == "bad_range"
    assert httpx.get(f"{fed.url}/v1/dashboards/nope/data").status_code == 404
    # A variable is bound, never spliced: a quote in it is just a metric name that has no samples.
    odd = httpx.get(f"{fed.url}/v1/dashboards/metrics/data", params={"range": "1h", "var-metric": "x' OR 1=1 --"}).json()
    assert odd["variables"]["metric"]["value"] == "x' OR 1=1 --" and odd["panels"]["count"]["values"]["samples"] in ([0], [None])
