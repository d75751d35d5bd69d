"""Upload dynamics and quote mid prices on small datasets whose expected values are worked out
by hand below: attempt and full times, failure rate, control limits, segments, sellers, top 10,
seller anomalies, per-country quantiles, media hosts, mid price per level."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import VitrinaProcess
from tests.models.helpers import at, close, ns, post, quantile, rows, run_models

D = "2026-02-03"


def attempt(
    item: int, company: int, ts: str, *, live_after: float | None = None, country: str | None = "DE", media: dict[str, int] | None = None
) -> dict[str, Any]:
    """One attempt; `live_after` seconds: created and live that long after the attempt."""
    t = ns(ts)
    event: dict[str, Any] = {
        "ts_ns": t,
        "item_id": item,
        "company_id": company,
        "category_id": 1,
        "origin": "upload/api",
        "country": country,
        "event": "SAVE" if live_after is not None else "UPDATE",
        "is_created": 1 if live_after is not None else 0,
        "up_ts": t + int(live_after * 1e9) if live_after is not None else 0,
    }
    if media:
        event["url_by_media"] = media
    return event


@pytest.fixture(scope="module")
def uploads(server: VitrinaProcess) -> VitrinaProcess:
    events = [
        # minute 10:00 ------------------------------------------------------------------
        # item A (seller 1001, RU): fails at 10:00:00, created at 10:00:20, live 15 s later
        attempt(
            1, 1001, f"{D} 10:00:00", country="RU", media={"jpg:https://cdn.host/1.jpg": 100, "png:https://images.example.com/2.png": 200}
        ),
        attempt(1, 1001, f"{D} 10:00:20", live_after=15, country="RU"),
        # item B (1002, US): created at once, live after 10 s
        attempt(
            2, 1002, f"{D} 10:00:10", live_after=10, country="US", media={"jpg:http://10.0.0.7/3.jpg": 5, "jpg:https://cdn.host/4.jpg": 1}
        ),
        # item C (1001, CN): an error, never created
        {**attempt(3, 1001, f"{D} 10:00:30", country="CN"), "event": "ERROR"},
        # item D (1003, no country): live after 5 s
        attempt(4, 1003, f"{D} 10:00:40", live_after=5, country=None),
    ]
    # minute 10:01: eleven sellers, one item each, live after 5 s, except one after 100 s
    for i in range(11):
        events.append(attempt(100 + i, 2000 + i, f"{D} 10:01:{i:02d}", live_after=100 if i == 10 else 5))
    # seller 3000: one item a day for the ten days before D, then five on D (not created)
    day = at(f"{D} 15:00:00")
    for back in range(1, 11):
        events.append(attempt(500 + back, 3000, (day - timedelta(days=back)).strftime("%Y-%m-%d %H:%M:%S")))
    events += [attempt(600 + i, 3000, f"{D} 15:00:0{i}") for i in range(5)]
    post(server, "uploads", events)
    run_models(server, full=True)
    return server


def test_item_attempt_and_full_time(uploads: VitrinaProcess) -> None:
    got = {r["item_id"]: r for r in rows(uploads, "SELECT * FROM vitrina.uploads_items WHERE item_id < 10")}
    # A: first attempt 10:00:00, live 10:00:35 → 35 s; first created attempt 10:00:20 → full 15 s
    assert close(got[1]["attempt_s"], 35.0) and close(got[1]["full_time_s"], 15.0) and got[1]["attempts"] == 2
    assert close(got[2]["attempt_s"], 10.0) and close(got[2]["full_time_s"], 10.0)
    assert got[3]["attempt_s"] is None and got[3]["full_time_s"] is None and got[3]["created"] == 0
    assert close(got[4]["attempt_s"], 5.0)
    assert "10:00:00" in str(got[1]["date_create"]) and got[1]["company_id"] == 1001 and got[1]["country"] == "RU"


def test_failure_rate_control_limits_and_segments_per_minute(uploads: VitrinaProcess) -> None:
    got = {
        r["m"][11:16]: r
        for r in rows(uploads, f"SELECT toString(minute) AS m, * FROM vitrina.uploads_minute WHERE toDate(minute) = '{D}' ORDER BY m")
    }
    m0 = got["10:00"]
    # 5 attempts, 3 created → 2/5 of the attempts failed; sellers 1001, 1002, 1003
    assert (m0["attempts"], m0["created_attempts"], m0["sellers"]) == (5, 3, 3) and close(m0["failed_attempt_share"], 0.4)
    # the failure rate is per item: A, B, C, D first seen here, only C never created → 1/4
    assert m0["items"] == 4 and close(m0["failure_rate"], 0.25)
    assert (m0["created_items_ru"], m0["created_items_rest"]) == (1, 2)  # A; B and D (no country is not RU)
    a = [35.0, 10.0, 5.0]  # attempt times of the items first seen in 10:00 that went live
    mean = sum(a) / 3
    sigma = math.sqrt(sum((x - mean) ** 2 for x in a) / 3)  # population sigma
    assert m0["live_items"] == 3 and close(m0["attempt_mean_s"], mean) and close(m0["attempt_sigma_s"], sigma)
    assert close(m0["attempt_ucl_s"], mean + 3 * sigma) and close(m0["beyond_ucl_share"], 0.0)

    m1 = got["10:01"]
    b = [5.0] * 10 + [100.0]
    mean = sum(b) / 11  # 13.636...
    sigma = math.sqrt(sum((x - mean) ** 2 for x in b) / 11)  # 27.31...: UCL 95.57 < 100
    assert close(m1["failure_rate"], 0.0) and (m1["created_items_ru"], m1["created_items_rest"]) == (0, 11)
    assert close(m1["attempt_ucl_s"], mean + 3 * sigma) and mean + 3 * sigma < 100
    assert close(m1["beyond_ucl_share"], 1 / 11)
    m15 = got["15:00"]  # only seller 3000's failed attempts: no chart
    assert close(m15["failure_rate"], 1.0) and m15["live_items"] == 0 and m15["attempt_mean_s"] is None


def test_daily_sellers_top10_and_anomalies(uploads: VitrinaProcess) -> None:
    day = rows(uploads, f"SELECT * FROM vitrina.uploads_daily WHERE day = '{D}'")[0]
    # attempts 5 + 11 + 5 = 21, created 3 + 11 = 14; items 4 + 11 + 5; sellers 3 + 11 + 1
    assert (day["attempts"], day["items"], day["created_items"], day["unique_sellers"]) == (21, 20, 14, 15)
    assert close(day["failed_attempt_share"], 1 - 14 / 21)
    # per item: 20 first seen on D (A-D, eleven at 10:01, five of 3000); C and 3000's five never created
    assert day["new_items"] == 20 and close(day["failure_rate"], 6 / 20)
    sellers = rows(uploads, f"SELECT company_id, items, items_rank, top10 FROM vitrina.uploads_sellers_daily WHERE day = '{D}'")
    ranked = [r["company_id"] for r in sorted(sellers, key=lambda r: r["items_rank"])]
    # 3000 has 5 items, 1001 two, then one each, ties by seller id
    assert ranked[:4] == [3000, 1001, 1002, 1003]
    assert {r["company_id"] for r in sellers if r["top10"]} == {3000, 1001, 1002, 1003, *range(2000, 2006)}
    rates = {r["company_id"]: r["failure_rate"] for r in rows(uploads, f"SELECT * FROM vitrina.uploads_sellers_daily WHERE day = '{D}'")}
    # 1001: A created, C not → 1/2; 3000: five new items, none created; 1002: B created
    assert close(rates[1001], 0.5) and close(rates[3000], 1.0) and close(rates[1002], 0.0)

    got = {
        (str(r["day"]), r["company_id"]): r
        for r in rows(uploads, "SELECT * FROM vitrina.uploads_seller_anomalies WHERE company_id IN (3000, 1001)")
    }
    # baseline of D: 30 days, ten of them with 1 item, twenty with 0
    base = [1.0] * 10 + [0.0] * 20
    mu = sum(base) / 30
    sigma = math.sqrt(sum((x - mu) ** 2 for x in base) / 30)
    a = got[(D, 3000)]
    assert a["baseline_days"] == 10 and close(a["baseline_mean"], mu) and close(a["baseline_sigma"], sigma)
    assert close(a["threshold"], mu + 2 * sigma) and a["anomaly"] is True  # 5 > 1.276
    before = got[("2026-02-02", 3000)]  # 1 item against nine ones in its 30 days: 1 < 0.3 + 2 * 0.458
    assert before["baseline_days"] == 9 and before["anomaly"] is False
    assert got[(D, 1001)]["anomaly"] is False  # no baseline at all: a first day is not an anomaly


def test_per_origin_attempt_time(uploads: VitrinaProcess) -> None:
    got = rows(uploads, f"SELECT * FROM vitrina.uploads_origin_daily WHERE day = '{D}'")
    assert len(got) == 1 and got[0]["origin"] == "upload/api"  # every attempt above is upload/api
    live = [35.0, 10.0, 5.0] + [5.0] * 10 + [100.0]  # A, B, D, and the eleven of 10:01
    mean = sum(live) / len(live)
    sigma = math.sqrt(sum((x - mean) ** 2 for x in live) / len(live))
    assert (got[0]["items"], got[0]["created_items"]) == (20, 14) and close(got[0]["failure_rate"], 6 / 20)
    assert close(got[0]["attempt_mean_s"], mean) and close(got[0]["attempt_sigma_s"], sigma)


def test_country_quantiles_and_media_hosts(uploads: VitrinaProcess) -> None:
    got = {r["country"]: r for r in rows(uploads, f"SELECT * FROM vitrina.uploads_country_daily WHERE day = '{D}'")}
    assert close(got["RU"]["full_p50_s"], 15.0) and close(got["US"]["full_p95_s"], 10.0) and got["CN"]["full_p50_s"] is None
    assert close(got[""]["full_p50_s"], 5.0)  # unknown country
    de = [5.0] * 10 + [100.0]  # sellers 2000..2010 (seller 3000's items were never created)
    assert (got["DE"]["items"], got["DE"]["created_items"]) == (16, 11)
    assert close(got["DE"]["full_p50_s"], quantile(de, 0.5)) and close(got["DE"]["full_p95_s"], 5 + 0.5 * 95)

    media = {r["host"]: r for r in rows(uploads, f"SELECT * FROM vitrina.uploads_media_daily WHERE day = '{D}'")}
    assert {h: (r["host_class"], r["urls"]) for h, r in media.items()} == {
        "cdn.host": ("ours", 2),
        "images.example.com": ("external", 1),
        "10.0.0.7": ("bad", 1),
    }
    assert close(media["cdn.host"]["share"], 0.5) and close(media["10.0.0.7"]["share"], 0.25)


def test_quotes_mid_price_per_level(server: VitrinaProcess) -> None:
    def report(ts: str, shift: float) -> dict[str, Any]:
        q: dict[str, Any] = {"timestamp": at(ts).timestamp()}
        for i in range(1, 51):
            q[f"bid_{i}"], q[f"ask_{i}"] = i + shift, i + 1 + shift
        return q

    # level i: mids i + 0.5 at 10:00:00 and i + 1.5 at 10:00:30 → mean i + 1, last i + 1.5
    post(server, "quotes", [report("2026-02-04 10:00:00", 0), report("2026-02-04 10:00:30", 1)])
    run_models(server, ["quotes_mid_minute"], full=True)
    got = rows(
        server, "SELECT level, reports, mid_avg, mid_last FROM vitrina.quotes_mid_minute WHERE toDate(minute) = '2026-02-04' ORDER BY level"
    )
    assert len(got) == 50
    for r in got:
        i = r["level"]
        assert r["reports"] == 2 and close(r["mid_avg"], i + 1.0) and close(r["mid_last"], i + 1.5)
