"""Posting events at chosen times, running models with a chosen clock, reading tables back."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from tests.conftest import VitrinaProcess


def at(text: str) -> datetime:
    """'2026-01-10 10:00:00' (UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ns(text: str) -> int:
    t = at(text)
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def post(v: VitrinaProcess, stream: str, events: list[dict[str, Any]]) -> None:
    resp = v.post(f"/v1/streams/{stream}", events)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == len(events), resp.text


def run_models(v: VitrinaProcess, names: list[str] | None = None, *, full: bool = False, now: str | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"names": names, "full": full}
    if now is not None:
        body["now"] = at(now).isoformat()
    resp = v.post("/v1/models/run", body)
    assert resp.status_code == 200, resp.text
    results: list[dict[str, Any]] = resp.json()
    assert all(r["status"] == "ok" for r in results), results
    return results


def rows(v: VitrinaProcess, sql: str) -> list[dict[str, Any]]:
    return v.sql(sql)


def snapshot(v: VitrinaProcess, table: str) -> list[tuple[Any, ...]]:
    """All rows, sorted, floats rounded (sums over threads may differ in the last bit)."""
    out = []
    for row in v.sql(f"SELECT * FROM vitrina.{table} ORDER BY ALL"):
        out.append(tuple(round(x, 9) if isinstance(x, float) else x for x in row.values()))
    return out


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default, R type 7), by hand."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
