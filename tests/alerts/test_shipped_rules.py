"""Each shipped alert rule against the simulator's traffic, evaluated by the real evaluator in
chdb over a stretch of simulated time: all stay quiet on normal traffic, and each fires on
traffic made to break it. The per-item failure rate is also checked on rows worked out by hand."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from vitrina.alerts.evaluator import Evaluator
from vitrina.alerts.figures import BUILTIN_FIGURES
from vitrina.alerts.rules import default_rule_specs, load_rules
from vitrina.alerts.settings import AlertSettings
from vitrina.alerts.source import SqlFigures
from vitrina.alerts.state import StateStore
from vitrina.config import Settings
from vitrina.intake.validate import StreamValidator
from vitrina.models.db import Db
from vitrina.sim.generators import Quotes, Uploads
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate

DAY = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MINUTES = 13  # of traffic; rules are evaluated every 30 s from minute 1
UPLOADS_PER_S = 33  # the demo's share: 200 events/s over six streams
SLOW_UPLOADS_PER_S = 3  # the share of `vitrina up --demo --demo-rate 20`
QUOTES_PER_S = 2
Event = dict[str, Any]
Spoil = Callable[[Event, random.Random], Event]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("rules")
    wh = Warehouse(parse_dsn(f"chdb://{folder / 'ch'}", "vitrina"))
    migrate(wh, Settings().streams.values())
    handle = Db.of(wh)
    yield wh, handle, folder
    handle.close()
    wh.close()


def _insert(wh: Warehouse, stream: str, events: list[Event]) -> None:
    checked = StreamValidator(Settings().streams[stream]).check_json(msgspec.json.encode(events), 0)
    assert not checked.problems and checked.count == len(events), checked.problems[:3]
    wh.insert_json_rows(stream, checked.rows)


def traffic(
    wh: Warehouse, start: datetime, spoil_upload: Spoil | None = None, spoil_quote: Spoil | None = None, uploads_per_s: int = UPLOADS_PER_S
) -> None:
    """MINUTES of the simulator's uploads and quotes from `start`, each event passed through a spoiler."""
    rng = random.Random(start.toordinal())
    uploads, quotes = Uploads(), Quotes()
    t0 = start.timestamp()
    up = [uploads(rng, t0 + i / uploads_per_s) for i in range(MINUTES * 60 * uploads_per_s)]
    qs = [quotes(rng, t0 + i / QUOTES_PER_S) for i in range(MINUTES * 60 * QUOTES_PER_S)]
    _insert(wh, "uploads", [spoil_upload(e, rng) for e in up] if spoil_upload else up)
    _insert(wh, "quotes", [spoil_quote(e, rng) for e in qs] if spoil_quote else qs)


def fired(db: Any, start: datetime) -> set[str]:
    """The rules that fired while the traffic from `start` was evaluated every 30 s."""
    _, handle, folder = db
    rules = load_rules(AlertSettings())
    store = StateStore(folder / f"state-{start:%j}.json")
    notes: list[Any] = []
    evaluator = Evaluator(rules, SqlFigures(handle, BUILTIN_FIGURES), store, notes.extend)
    for step in range(2, MINUTES * 2 + 1):
        evaluator.evaluate(start + timedelta(seconds=30 * step))
    return {a.labels["alertname"] for a in notes if a.status == "firing"}


def _never_created(e: Event, rng: random.Random) -> Event:
    return {**e, "is_created": 0, "up_ts": 0, "event": "UPDATE"}


def _late(seconds: float, share: float = 1.0) -> Spoil:
    def spoil(e: Event, rng: random.Random) -> Event:
        if e["is_created"] and rng.random() < share:
            return {**e, "up_ts": e["up_ts"] + int(seconds * 1e9)}
        return e

    return spoil


def _few_sellers(e: Event, rng: random.Random) -> Event:
    return {**e, "company_id": 1000 + e["item_id"] % 50}


def _ru_never_created(e: Event, rng: random.Random) -> Event:
    return _never_created(e, rng) if e["country"] == "RU" else e


def _high_mid(e: Event, rng: random.Random) -> Event:
    return {**e, "bid_1": 10.0, "ask_1": 10.0}


BROKEN: dict[str, tuple[Spoil | None, Spoil | None]] = {
    "UploadFailureRateHigh": (_never_created, None),
    "UploadAttemptTimeHigh": (_late(30), None),  # mean ~50 s > 30
    "UploadAttemptTimeSpread": (_late(70, 0.5), None),  # half 70 s later: sigma ~35 s > 20
    "UploadSellersFew": (_few_sellers, None),  # 50 sellers today < 100
    "UploadAttemptUclHigh": (_late(150, 0.05), None),  # 5 % very late: mean + 3 sigma > 60 s
    "UploadNoItemsCreated": (_ru_never_created, None),  # segment RU creates nothing
    "QuotesMidPriceHigh": (None, _high_mid),  # level-1 mid 10 > 9.9
}


def test_every_shipped_rule_has_a_breaking_traffic() -> None:
    assert {spec["name"] for spec in default_rule_specs()} == set(BROKEN)


@pytest.mark.parametrize("uploads_per_s", [UPLOADS_PER_S, SLOW_UPLOADS_PER_S])
def test_shipped_rules_stay_quiet_on_normal_traffic(db: Any, uploads_per_s: int) -> None:
    """At the demo's rate and at a tenth of it: a simulated seller's retries do not wait for
    the simulator's rate (sim/generators.py: RETRY_AFTER_S)."""
    start = DAY - timedelta(days=1 if uploads_per_s == UPLOADS_PER_S else 2)
    traffic(db[0], start, uploads_per_s=uploads_per_s)
    assert fired(db, start) == set()


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_each_shipped_rule_fires_on_traffic_made_to_break_it(db: Any, rule: str) -> None:
    start = DAY + timedelta(days=1 + sorted(BROKEN).index(rule))
    spoil_upload, spoil_quote = BROKEN[rule]
    traffic(db[0], start, spoil_upload, spoil_quote)
    assert rule in fired(db, start)


def test_failure_rate_is_per_item_by_hand(db: Any) -> None:
    """Items first seen in the last minute: X retried twice then created, Y never created, Z
    created at once; W was first seen two minutes ago (not in the window, though retried in
    it). Per item: 1 of 3 not created. Per attempt 4 of 6 attempts in the window failed."""
    wh, handle, _ = db
    now = DAY - timedelta(days=30)
    ns = int(now.timestamp()) * 10**9

    def attempt(item: int, seconds_ago: int, created: bool) -> Event:
        ts = ns - seconds_ago * 10**9
        up = ts + 10**9 if created else 0
        event = "SAVE" if created else "UPDATE"
        fields = {"company_id": 1, "category_id": 1, "origin": "o", "event": event}
        return {"ts_ns": ts, "item_id": item, **fields, "is_created": int(created), "up_ts": up}

    rows = [attempt(1, 50, False), attempt(1, 40, False), attempt(1, 30, True), attempt(2, 20, False), attempt(3, 10, True)]
    rows += [attempt(4, 120, False), attempt(4, 5, False)]
    _insert(wh, "uploads", rows)
    got = SqlFigures(handle, BUILTIN_FIGURES).values(["vitrina_upload_failure_ratio", "vitrina_upload_failed_attempt_ratio"], now)
    assert next(iter(got["vitrina_upload_failure_ratio"].values()))[1] == pytest.approx(1 / 3)
    assert next(iter(got["vitrina_upload_failed_attempt_ratio"].values()))[1] == pytest.approx(4 / 6)
