"""Store popularity and conversion (zero views → NULL), requests per minute, and probe
stability, on small datasets whose expected values are worked out by hand below."""

from __future__ import annotations

from typing import Any

from tests.conftest import VitrinaProcess
from tests.models.helpers import at, close, post, quantile, rows, run_models


def store(time: str, type_: str, product: int, category: int, price: float, dc: str = "eu", code: str | None = None) -> dict[str, Any]:
    return {
        "time": at(time).isoformat(),
        "type": type_,
        "product_id": product,
        "category_id": category,
        "category_code": code,
        "price": price,
        "user_id": 1,
        "user_session": "s",
        "datacenter": dc,
    }


def test_products_and_categories_by_revenue_views_and_conversion(server: VitrinaProcess) -> None:
    t = "2026-02-01 10:00:00"
    events = (
        # product 1 (category 10): 4 views, 1 purchase at 20 → conversion 1/4, revenue 20
        [store(t, "view", 1, 10, 20.0)] * 4
        + [store(t, "purchase", 1, 10, 20.0)]
        # product 2 (category 10): no views, a cart, 2 purchases at 5 → conversion NULL, revenue 10
        + [store("2026-02-01 10:01:00", "cart", 2, 10, 5.0)]
        + [store("2026-02-01 10:01:30", "purchase", 2, 10, 5.0)] * 2
        # product 3 (category 20): 2 views, nothing bought → conversion 0
        + [store(t, "view", 3, 20, 7.0)] * 2
        # product 4 (category 30): only a cart → category 30 has no views either
        + [store(t, "cart", 4, 30, 1.0, code="toys.ball")]
        # another datacenter, ranked on its own
        + [store(t, "view", 1, 10, 20.0, dc="usa")]
    )
    post(server, "store_events", events)
    run_models(server, ["store_categories_daily", "store_requests_minute"], full=True)
    got = {
        r["product_id"]: r
        for r in rows(server, "SELECT * FROM vitrina.store_products_daily WHERE day = '2026-02-01' AND datacenter = 'eu'")
    }
    assert {p: (r["views"], r["carts"], r["purchases"], r["revenue"]) for p, r in got.items()} == {
        1: (4, 0, 1, 20.0),
        2: (0, 1, 2, 10.0),
        3: (2, 0, 0, 0.0),
        4: (0, 1, 0, 0.0),
    }
    assert close(got[1]["conversion"], 0.25) and got[2]["conversion"] is None and close(got[3]["conversion"], 0.0)
    assert got[4]["conversion"] is None
    assert {p: r["revenue_rank"] for p, r in got.items()} == {1: 1, 2: 2, 3: 3, 4: 3}  # 3 and 4 tie at 0
    assert {p: r["views_rank"] for p, r in got.items()} == {1: 1, 3: 2, 2: 3, 4: 3}
    assert {p: r["conversion_rank"] for p, r in got.items()} == {1: 1, 3: 2, 2: 3, 4: 3}  # NULL ranks last
    assert got[4]["category_code"] == "toys.ball"

    cats = {
        r["category_id"]: r
        for r in rows(server, "SELECT * FROM vitrina.store_categories_daily WHERE day = '2026-02-01' AND datacenter = 'eu'")
    }
    # category 10 = products 1 + 2: views 4, purchases 3 → 3/4, revenue 30
    assert (cats[10]["views"], cats[10]["purchases"], cats[10]["revenue"]) == (4, 3, 30.0) and close(cats[10]["conversion"], 0.75)
    assert close(cats[20]["conversion"], 0.0) and cats[30]["conversion"] is None
    assert min(cats, key=lambda c: cats[c]["revenue_rank"]) == 10
    usa = rows(server, "SELECT views, revenue_rank FROM vitrina.store_products_daily WHERE day = '2026-02-01' AND datacenter = 'usa'")
    assert usa == [{"views": 1, "revenue_rank": 1}]

    per_minute = rows(
        server,
        "SELECT toString(minute) AS m, datacenter, requests, views, carts, purchases FROM vitrina.store_requests_minute "
        "WHERE toDate(minute) = '2026-02-01' ORDER BY datacenter, m",
    )
    # eu 10:00: 4 + 1 + 2 + 1 = 8 events; eu 10:01: a cart and 2 purchases; usa 10:00: 1 view
    assert [(r["m"][:16], r["datacenter"], r["requests"], r["views"], r["carts"], r["purchases"]) for r in per_minute] == [
        ("2026-02-01 10:00", "eu", 8, 6, 1, 1),
        ("2026-02-01 10:01", "eu", 3, 0, 1, 2),
        ("2026-02-01 10:00", "usa", 1, 1, 0, 0),
    ]


def probe(time: str, status: int, ms: float, location: str = "eu", target: str = "https://t1") -> dict[str, Any]:
    return {"time": at(time).isoformat(), "location": location, "target": target, "status_code": status, "response_time_ms": ms}


def test_stability_uptime_availability_and_response_quantiles(server: VitrinaProcess) -> None:
    post(
        server,
        "probes",
        [
            probe("2026-02-02 10:00:05", 200, 10.0),  # minute 10:00: one success, one failure
            probe("2026-02-02 10:00:35", 500, 20.0),
            probe("2026-02-02 10:01:10", 0, 40.0),  # minute 10:01: no answer
            probe("2026-02-02 10:02:00", 302, 30.0),  # minute 10:02: a redirect counts as up
            probe("2026-02-02 10:00:00", 200, 5.0, location="asia"),
        ],
    )
    run_models(server, ["probes_stability_daily"], full=True)
    got = {r["location"]: r for r in rows(server, "SELECT * FROM vitrina.probes_stability_daily WHERE day = '2026-02-02'")}
    eu = got["eu"]
    assert (eu["probes"], eu["successes"], eu["minutes"], eu["ok_minutes"]) == (4, 2, 3, 2)
    assert close(eu["availability"], 2 / 4)  # successful probes / probes
    assert close(eu["uptime"], 2 / 3)  # minutes with a success / minutes probed
    times = [10.0, 20.0, 40.0, 30.0]
    # sorted 10, 20, 30, 40: p50 halfway between 20 and 30; p95 at rank 2.85 → 30 + 0.85 * 10; p99 → 30 + 0.97 * 10
    assert close(eu["p50_ms"], 25.0) and close(eu["p95_ms"], 38.5) and close(eu["p99_ms"], 39.7)
    assert close(eu["p95_ms"], quantile(times, 0.95))
    assert close(got["asia"]["uptime"], 1.0) and close(got["asia"]["availability"], 1.0)
