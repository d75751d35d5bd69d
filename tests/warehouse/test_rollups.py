"""Rollups (materialized views into AggregatingMergeTree) give the numbers of the same aggregate
over the raw table, for every built-in stream, at both resolutions."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import VitrinaProcess
from vitrina.sim.generators import make_event
from vitrina.streams.builtin import BUILTIN
from vitrina.warehouse.rollups import read_raw, read_rollup

NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(minutes=10), NOW + timedelta(minutes=1)


def _literal(q: Any) -> str:
    """Inline the query parameters (the SQL endpoint takes plain SQL)."""
    sql = q.sql
    for name, value in q.parameters.items():
        text = value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value)
        sql = sql.replace(f"{{{name}:DateTime64(3, 'UTC')}}", f"toDateTime64('{text}', 3, 'UTC')").replace(
            f"{{{name}:String}}", f"'{text}'"
        )
    return sql


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=False))
    return bool(a == b)


def _spread(event: dict[str, Any], stream: str, rng: random.Random) -> dict[str, Any]:
    """Put the event at a random moment of the last five minutes, in the stream's time field."""
    moment = NOW - timedelta(seconds=rng.uniform(0, 300))
    if stream == "uploads":
        event["ts_ns"] = int(moment.timestamp() * 1e9)
        if event.get("up_ts"):
            event["up_ts"] = event["ts_ns"] + rng.randint(5, 25) * 10**9
    elif stream == "site_events":
        event["dt"] = moment.isoformat()
    elif stream == "quotes":
        event["timestamp"] = moment.timestamp()
    else:
        event["time"] = moment.isoformat()
    return event


@pytest.mark.parametrize("stream", [s for s in BUILTIN], ids=[s.name for s in BUILTIN])
def test_rollups_equal_raw_aggregates(vitrina: VitrinaProcess, stream: Any) -> None:
    rng = random.Random(7)
    # several requests, so the rollup holds several parts per bucket that merge on read
    for _ in range(4):
        events = [_spread(make_event(stream.name, rng, NOW.timestamp()), stream.name, rng) for _ in range(300)]
        resp = vitrina.post(f"/v1/streams/{stream.name}", events)
        assert resp.json()["accepted"] == 300, resp.text
    for rollup in stream.rollups:
        for resolution in ("1s", "1m"):
            fast = vitrina.sql(_literal(read_rollup(stream, rollup, resolution, "vitrina", START, END)))
            slow = vitrina.sql(_literal(read_raw(stream, rollup, resolution, "vitrina", START, END)))
            assert len(fast) > (1 if resolution == "1m" else 100)
            assert len(fast) == len(slow)
            for f, s in zip(fast, slow, strict=False):
                assert set(f) == set(s)
                for col in f:
                    assert _same(f[col], s[col]), (resolution, col, f, s)


def test_rollup_endpoint_filters_and_merges_keys(vitrina: VitrinaProcess) -> None:
    import httpx

    events = [{"metric_name": "rollup-a", "metric_value": v} for v in (1, 2, 3)] + [{"metric_name": "rollup-b", "metric_value": 10}]
    assert vitrina.post("/v1/streams/metrics", events).json()["accepted"] == 4
    body = httpx.get(f"{vitrina.url}/v1/rollups/metrics", params={"last": 120, "metric_name": "rollup-a"}).json()
    assert sum(r["count"] for r in body["data"]) == 3 and {r["metric_name"] for r in body["data"]} == {"rollup-a"}
    assert max(r["max"] for r in body["data"]) == 3
    bad = httpx.get(f"{vitrina.url}/v1/rollups/metrics", params={"nosuchkey": "x"})
    assert bad.status_code == 400 and "nosuchkey" in bad.json()["message"]
    assert httpx.get(f"{vitrina.url}/v1/rollups/nosuch").status_code == 404
    per_minute = httpx.get(f"{vitrina.url}/v1/rollups/uploads", params={"resolution": "1m", "last": 3600}).json()
    assert all("failed_attempt_share" in r for r in per_minute["data"])  # a rollup figure (per attempt)
