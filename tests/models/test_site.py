"""Site figures on a small clickstream whose expected values are worked out by hand below:
sessions (split at more than 1800 s), per user and day, DAU/WAU/MAU window edges, funnel,
session duration histogram and mean."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import VitrinaProcess
from tests.models.helpers import at, close, post, rows, run_models


def view(user: int, dt: str) -> dict[str, Any]:
    return {"dt": at(dt).isoformat(), "name": "view", "user_id": user, "url": "https://shop/p", "obj": "page"}


def button(user: int, dt: str, which: str, amount: float = 0.0) -> dict[str, Any]:
    return {
        "dt": at(dt).isoformat(),
        "name": "click",
        "user_id": user,
        "url": "https://shop/p",
        "obj": "button",
        "obj_id": which,
        "amount": amount,
    }


@pytest.fixture(scope="module")
def site(server: VitrinaProcess) -> VitrinaProcess:
    post(
        server,
        "site_events",
        [
            # user 1: 10:00 → 10:30:00 is a gap of exactly 1800 s (same session);
            # 10:30:00 → 11:00:01 is 1801 s (a new session)
            view(1, "2026-01-10 10:00:00"),
            button(1, "2026-01-10 10:30:00", "add_to_cart", 100.0),
            view(1, "2026-01-10 11:00:01"),
            button(1, "2026-01-10 11:10:01", "checkout", 50.0),
            # user 2: one session across midnight (gap 1200 s), started on the 10th
            view(2, "2026-01-10 23:50:00"),
            view(2, "2026-01-11 00:10:00"),
            # user 3: the whole funnel in order within two minutes
            view(3, "2026-01-10 12:00:00"),
            button(3, "2026-01-10 12:01:00", "add_to_cart", 10.0),
            button(3, "2026-01-10 12:02:00", "checkout", 10.0),
        ],
    )
    run_models(server, ["site_sessions_daily", "site_session_histogram", "site_active_users"], full=True)
    return server


def test_sessions_split_after_more_than_1800_seconds(site: VitrinaProcess) -> None:
    got = rows(
        site,
        "SELECT user_id, toString(session_start) AS s, toString(session_end) AS e, duration_s, pages, events, "
        "add_to_cart, checkouts, checkout_amount, funnel_step, ordinal "
        "FROM vitrina.site_sessions WHERE toDate(session_start) BETWEEN '2026-01-10' AND '2026-01-11' ORDER BY user_id, s",
    )
    assert [(r["user_id"], r["s"], r["e"], r["duration_s"]) for r in got] == [
        (1, "2026-01-10 10:00:00.000", "2026-01-10 10:30:00.000", 1800.0),  # 1800 s: same session
        (1, "2026-01-10 11:00:01.000", "2026-01-10 11:10:01.000", 600.0),  # 1801 s: a new one
        (2, "2026-01-10 23:50:00.000", "2026-01-11 00:10:00.000", 1200.0),  # across midnight
        (3, "2026-01-10 12:00:00.000", "2026-01-10 12:02:00.000", 120.0),
    ]
    # pages, events, carts, checkouts, checkout amount, funnel step (view → cart → checkout in order)
    assert [(r["pages"], r["events"], r["add_to_cart"], r["checkouts"], r["checkout_amount"], r["funnel_step"]) for r in got] == [
        (1, 2, 1, 0, 0.0, 2),
        (1, 2, 0, 1, 50.0, 1),  # checkout without a cart: the funnel stops at its first step
        (2, 2, 0, 0, 0.0, 1),
        (1, 3, 1, 1, 10.0, 3),
    ]
    assert [r["ordinal"] for r in got] == [1, 2, 1, 1]
    ids = rows(site, "SELECT session_id FROM vitrina.site_sessions WHERE toDate(session_start) = '2026-01-10'")
    assert len({r["session_id"] for r in ids}) == 4


def test_user_daily_activity(site: VitrinaProcess) -> None:
    got = rows(site, "SELECT * FROM vitrina.site_user_daily WHERE day BETWEEN '2026-01-10' AND '2026-01-11' ORDER BY day, user_id")
    summary = [
        (
            str(r["day"]),
            r["user_id"],
            r["events"],
            r["views"],
            r["add_to_cart"],
            r["checkouts"],
            r["add_to_cart_amount"],
            r["checkout_amount"],
        )
        for r in got
    ]
    assert summary == [
        ("2026-01-10", 1, 4, 2, 1, 1, 100.0, 50.0),
        ("2026-01-10", 2, 1, 1, 0, 0, 0.0, 0.0),
        ("2026-01-10", 3, 3, 1, 1, 1, 10.0, 10.0),
        ("2026-01-11", 2, 1, 1, 0, 0, 0.0, 0.0),
    ]
    first = got[0]
    assert str(first["first_seen"]).startswith("2026-01-10 10:00:00") or str(first["first_seen"]).startswith("2026-01-10T10:00:00")
    assert "11:10:01" in str(first["last_seen"])


def test_funnel_and_session_durations(site: VitrinaProcess) -> None:
    day = rows(site, "SELECT * FROM vitrina.site_sessions_daily WHERE day = '2026-01-10'")[0]
    # sessions of the 10th: durations 1800, 600, 1200, 120; funnel steps 2, 1, 1, 3
    assert (day["sessions"], day["users"]) == (4, 3)
    assert close(day["mean_duration_s"], (1800 + 600 + 1200 + 120) / 4)
    assert (day["viewed"], day["added_to_cart"], day["checked_out"]) == (4, 2, 1)
    assert close(day["view_to_cart"], 2 / 4) and close(day["cart_to_checkout"], 1 / 2) and close(day["view_to_checkout"], 1 / 4)
    hist = rows(site, "SELECT bucket_s, sessions FROM vitrina.site_session_histogram WHERE day = '2026-01-10' ORDER BY bucket_s")
    # edges 0, 10, 30, 60, 120, 300, 600, 1800, 3600: 120 → [120, 300), 600 and 1200 → [600, 1800), 1800 → [1800, 3600)
    assert [(r["bucket_s"], r["sessions"]) for r in hist] == [(120, 1), (600, 2), (1800, 1)]
    # no session started on the 11th: nothing to convert, the day is absent
    assert rows(site, "SELECT count() AS n FROM vitrina.site_sessions_daily WHERE day = '2026-01-11'")[0]["n"] == 0


def test_dau_wau_mau_window_edges(server: VitrinaProcess) -> None:
    x = at("2026-03-31 12:00:00")

    def on(days_before: int, user: int) -> dict[str, Any]:
        return view(user, (x - timedelta(days=days_before)).strftime("%Y-%m-%d %H:%M:%S"))

    # user 10 on the day; 11 six days before (in the week); 12 seven days before (out of the
    # week, in the month); 13 29 days before (in the month); 14 30 days before (out)
    post(server, "site_events", [on(0, 10), on(6, 11), on(7, 12), on(29, 13), on(30, 14)])
    run_models(server, ["site_active_users"], full=True)
    got = {str(r["day"]): r for r in rows(server, "SELECT * FROM vitrina.site_active_users WHERE day >= '2026-03-01'")}
    d = got["2026-03-31"]
    assert (d["dau"], d["wau"], d["mau"]) == (1, 2, 4)
    assert close(d["stickiness"], 1 / 4)
    # 7 days before: user 12 alone that day and week; the month back to 36 days before holds 12, 13, 14
    w = got["2026-03-24"]
    assert (w["dau"], w["wau"], w["mau"]) == (1, 1, 3)
    # a day nobody came: DAU 0, the week still holds user 11 (6 days before the 31st is the 25th)
    q = got["2026-03-27"]
    assert (q["dau"], q["wau"], q["mau"]) == (0, 2, 4)
    assert close(q["stickiness"], 0.0)
