"""`GET /v1/tail/{stream}`: a stream's newest events and rejects (with reasons), newest
first, `limit` of each; read through the read-only reader; an unknown stream is a 404 naming
the streams there are."""

from __future__ import annotations

import time

import httpx

from tests.conftest import VitrinaProcess


def test_the_tail_is_the_newest_events_and_rejects(vitrina: VitrinaProcess) -> None:
    marker = f"tail_api_{time.time_ns()}"
    for i in range(5):
        events = [{"metric_name": f"{marker}_{i}", "metric_value": i}, {"metric_name": f"{marker}_{i}", "metric_value": "bad"}]
        assert vitrina.post("/v1/streams/metrics", events).status_code == 200
    tail = httpx.get(f"{vitrina.url}/v1/tail/metrics", params={"limit": 3}, timeout=30).json()
    assert tail["stream"] == "metrics" and tail["time_field"] == "time"
    assert [r["metric_name"] for r in tail["events"]["rows"]] == [f"{marker}_{i}" for i in (4, 3, 2)]
    assert set(tail["events"]["columns"]) >= {"time", "metric_name", "metric_value", "tags"}
    rejects = tail["rejects"]["rows"]
    assert [f"{marker}_{i}" in r["raw"] for i, r in zip((4, 3, 2), rejects, strict=True)] == [True] * 3
    assert all("metric_value" in r["reason"] and r["source"] == "http" for r in rejects)
    assert tail["rejects"]["columns"] == ["time", "source", "position", "reason", "raw"]

    unknown = httpx.get(f"{vitrina.url}/v1/tail/nosuch", timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_stream" and "metrics" in unknown.json()["message"]
    for limit in ("0", "201", "x"):
        assert httpx.get(f"{vitrina.url}/v1/tail/metrics", params={"limit": limit}, timeout=30).status_code == 422
    other = httpx.get(f"{vitrina.url}/v1/tail/uploads", timeout=30).json()
    assert all(marker not in r["raw"] for r in other["rejects"]["rows"])  # a stream's own rejects only
