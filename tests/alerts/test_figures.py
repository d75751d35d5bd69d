"""The shipped figures take their expressions from the stream declarations and still mean what
the seed's figures meant: each is computed in chdb over the same rows as the seed's own
definition (written out below, as the upload monitor and the quotes pipeline had them)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from vitrina.alerts.figures import BUILTIN_FIGURES, render
from vitrina.alerts.source import SqlFigures
from vitrina.config import Settings
from vitrina.intake.validate import StreamValidator
from vitrina.models.db import Db
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate

NOW = datetime(2026, 5, 1, 12, 0, 30, 250000, tzinfo=UTC)
LAST_MINUTE = "ts_ns >= $now_ns - 60000000000 AND ts_ns < $now_ns"
LIVE_ITEMS = (
    "SELECT (toInt64(max(up_ts)) - toInt64(min(ts_ns))) / 1e9 AS a FROM $db.uploads "
    "WHERE ts_ns >= $now_ns - 3600000000000 AND ts_ns < $now_ns GROUP BY item_id "
    "HAVING max(up_ts) >= $now_ns - 60000000000 AND max(up_ts) < $now_ns"
)
# The upload monitor's per-item table (attempt_create_time): one row per item, first attempt and
# whether any attempt created it; its failure rate is over the items first seen in the window.
ATTEMPT_CREATE_TIME = (
    "SELECT item_id, min(ts_ns) AS first, max(is_created) AS is_created FROM $db.uploads "
    "WHERE ts_ns >= $now_ns - 3660000000000 AND ts_ns < $now_ns GROUP BY item_id HAVING first >= $now_ns - 60000000000"
)
SEED = {
    "vitrina_upload_failure_ratio": f"SELECT sum(if(is_created, 0, 1)) / count() AS value FROM ({ATTEMPT_CREATE_TIME}) HAVING count() > 0",
    "vitrina_upload_failed_attempt_ratio": "SELECT 1 - countIf(is_created = 1) / count() AS value "
    f"FROM $db.uploads WHERE {LAST_MINUTE} HAVING count() > 0",
    "vitrina_upload_attempts": f"SELECT count() AS value FROM $db.uploads WHERE {LAST_MINUTE}",
    "vitrina_upload_attempt_mean_seconds": f"SELECT avg(a) AS value FROM ({LIVE_ITEMS}) HAVING count() > 0",
    "vitrina_upload_attempt_sigma_seconds": f"SELECT stddevPop(a) AS value FROM ({LIVE_ITEMS}) HAVING count() > 0",
    "vitrina_upload_attempt_ucl_seconds": f"SELECT avg(a) + 3 * stddevPop(a) AS value FROM ({LIVE_ITEMS}) HAVING count() > 0",
    "vitrina_upload_unique_sellers_today": "SELECT uniqExact(company_id) AS value FROM $db.uploads "
    "WHERE ts_ns >= toUInt64(toUnixTimestamp(toDateTime($today, 'UTC'))) * 1000000000 AND ts_ns < $now_ns",
    "vitrina_upload_items_created": "SELECT segment, sum(n) AS value FROM ("
    "SELECT if(ifNull(country, '') = 'RU', 'RU', 'rest') AS segment, toUInt64(uniqExact(item_id)) AS n FROM $db.uploads "
    f"WHERE is_created = 1 AND {LAST_MINUTE} GROUP BY segment "
    "UNION ALL SELECT arrayJoin(['RU', 'rest']) AS segment, toUInt64(0) AS n) GROUP BY segment",
    "vitrina_quotes_mid_price": "SELECT '1' AS level, argMax((ask_1 + bid_1) / 2, timestamp) AS value FROM $db.quotes "
    "WHERE timestamp >= $now - INTERVAL 60 SECOND AND timestamp < $now HAVING count() > 0",
}


def _uploads(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    end_ns = int(NOW.timestamp() * 1e9)
    for i in range(3000):
        ts = end_ns - rng.randrange(0, 2 * 3600 * 10**9)
        created = rng.random() < 0.45
        out.append(
            {
                "ts_ns": ts,
                "item_id": rng.randrange(1, 800),  # items retried across attempts
                "company_id": rng.randrange(1, 300),
                "category_id": 1,
                "origin": "upload/api",
                "country": rng.choice(["RU", "DE", None]),
                "event": "SAVE" if created else rng.choice(["UPDATE", "ERROR"]),
                "is_created": int(created),
                "up_ts": ts + rng.randrange(1, 90) * 10**9 if created else 0,
                "attempt_id": str(i),
            }
        )
    return out


def _quotes(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for k in range(200):
        q: dict[str, Any] = {"timestamp": NOW.timestamp() - k * 0.7}
        for i in range(1, 51):
            q[f"bid_{i}"], q[f"ask_{i}"] = rng.uniform(9, 10), rng.uniform(10, 11)
        out.append(q)
    return out


@pytest.fixture
def db(tmp_folder: Path) -> Any:
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    migrate(wh, Settings().streams.values())
    handle = Db.of(wh)
    yield wh, handle
    handle.close()
    wh.close()


def test_shipped_figures_equal_the_seed_definitions(db: Any) -> None:
    wh, handle = db
    rng = random.Random(7)
    streams = Settings().streams
    for stream, rows in (("uploads", _uploads(rng)), ("quotes", _quotes(rng))):
        checked = StreamValidator(streams[stream]).check_json(msgspec.json.encode(rows), int(NOW.timestamp() * 1e9))
        assert not checked.problems and checked.count == len(rows)
        wh.insert_json_rows(stream, checked.rows)

    got = SqlFigures(handle, BUILTIN_FIGURES).values(list(BUILTIN_FIGURES), NOW)
    assert set(SEED) == set(BUILTIN_FIGURES)
    for name, seed_sql in SEED.items():
        cols, rows = handle.columns_rows(render(seed_sql, "vitrina", NOW))
        expected = {tuple((c, str(v)) for c, v in zip(cols, r, strict=True) if c != "value"): float(r[cols.index("value")]) for r in rows}
        figure = {tuple(sorted(labels.items())): value for labels, value in got[name].values()}
        assert figure.keys() == expected.keys() and expected, name
        for key, value in expected.items():
            assert figure[key] == pytest.approx(value, rel=1e-12), name
    # The window is the last minute: an hour later there are no attempts, and the ratio has no value.
    later = SqlFigures(handle, BUILTIN_FIGURES).values(["vitrina_upload_failure_ratio"], NOW + timedelta(hours=3))
    assert later == {"vitrina_upload_failure_ratio": {}}
