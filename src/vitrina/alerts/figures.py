"""Figures: named numbers that rules test, computed by one SQL query each and exported as
Prometheus gauges of the same name (so the exported Prometheus rules read the same values).

A figure's query returns a `value` column and optionally label columns (every other column);
no row means no value. It may use $db, $now (DateTime64), $now_ns (UInt64 ns) and $today (Date).
The shipped figures take their expressions from the stream declarations (streams/builtin.py):
a rollup's aggregate or figure computed over the last minute's raw rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from string import Template
from typing import Any

from vitrina.streams.builtin import ITEM_FAILURE_RATE, QUOTES, SEGMENT, SEGMENTS, UPLOADS, attempt_seconds, item_rows
from vitrina.streams.declare import Aggregate, Rollup

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")  # a Prometheus metric name


@dataclass(frozen=True)
class Figure:
    name: str
    sql: str
    help: str = ""


_UPLOADS = UPLOADS.rollups[0]
_QUOTES = QUOTES.rollups[0]


def _raw(rollup: Rollup, column: str) -> str:
    """A rollup's aggregate or figure, computed over raw rows (the window's, not a bucket's)."""
    return rollup.expression(column, lambda a: a.raw_sql())


def _exact(a: Aggregate) -> str:
    """The exact count behind a `uniq` aggregate: an alert compares it with a limit."""
    assert a.function == "uniq", a
    return f"uniqExact({', '.join(a.args)})"


def _last_minute_ns() -> str:
    t = UPLOADS.time_field  # epoch ns
    return f"{t} >= $now_ns - 60000000000 AND {t} < $now_ns"


# Items that went live in the last minute, with their attempt time (last up_ts − first attempt),
# their attempts looked up over the last hour.
_LIVE_ITEMS = (
    f"SELECT {attempt_seconds('max(up_ts)', 'min(ts_ns)')} AS a FROM $db.uploads "
    "WHERE ts_ns >= $now_ns - 3600000000000 AND ts_ns < $now_ns GROUP BY item_id "
    "HAVING max(up_ts) >= $now_ns - 60000000000 AND max(up_ts) < $now_ns"
)
_SEGMENT_ROWS = ", ".join(f"'{s}'" for s in SEGMENTS)

BUILTIN_FIGURES: dict[str, Figure] = {
    f.name: f
    for f in (
        Figure(
            "vitrina_upload_failure_ratio",
            f"SELECT {ITEM_FAILURE_RATE} AS value FROM ({item_rows('$db.uploads', '$now_ns - 60000000000', '$now_ns')}) HAVING count() > 0",
            "Share of the items first seen in the last minute that no attempt created (the upload monitor's failure rate).",
        ),
        Figure(
            "vitrina_upload_failed_attempt_ratio",
            f"SELECT {_raw(_UPLOADS, 'failed_attempt_share')} AS value FROM $db.uploads WHERE {_last_minute_ns()} HAVING count() > 0",
            "Share of the last minute's upload attempts that did not create their item (retries included).",
        ),
        Figure(
            "vitrina_upload_attempts",
            f"SELECT {_raw(_UPLOADS, 'attempts')} AS value FROM $db.uploads WHERE {_last_minute_ns()}",
            "Upload attempts in the last minute.",
        ),
        Figure(
            "vitrina_upload_attempt_mean_seconds",
            f"SELECT avg(a) AS value FROM ({_LIVE_ITEMS}) HAVING count() > 0",
            "Mean attempt time (first attempt to live) of the items that went live in the last minute.",
        ),
        Figure(
            "vitrina_upload_attempt_sigma_seconds",
            f"SELECT stddevPop(a) AS value FROM ({_LIVE_ITEMS}) HAVING count() > 0",
            "Population standard deviation of the attempt time of the items that went live in the last minute.",
        ),
        Figure(
            "vitrina_upload_attempt_ucl_seconds",
            f"SELECT avg(a) + 3 * stddevPop(a) AS value FROM ({_LIVE_ITEMS}) HAVING count() > 0",
            "Upper control limit (mean + 3 sigma) of the attempt time of the items that went live in the last minute.",
        ),
        Figure(
            "vitrina_upload_unique_sellers_today",
            f"SELECT {_exact(_UPLOADS.aggregate('sellers'))} AS value FROM $db.uploads "
            "WHERE ts_ns >= toUInt64(toUnixTimestamp(toDateTime($today, 'UTC'))) * 1000000000 AND ts_ns < $now_ns",
            "Sellers who uploaded since midnight UTC.",
        ),
        Figure(
            "vitrina_upload_items_created",
            "SELECT segment, sum(n) AS value FROM ("
            f"SELECT {SEGMENT} AS segment, toUInt64(uniqExact(item_id)) AS n FROM $db.uploads "
            f"WHERE is_created = 1 AND {_last_minute_ns()} GROUP BY segment "
            f"UNION ALL SELECT arrayJoin([{_SEGMENT_ROWS}]) AS segment, toUInt64(0) AS n) GROUP BY segment",
            f"Items created in the last minute, by segment ({' / '.join(SEGMENTS)}).",
        ),
        Figure(
            "vitrina_quotes_mid_price",
            f"SELECT '1' AS level, {_raw(_QUOTES, 'mid1_last')} AS value FROM $db.quotes "
            f"WHERE {QUOTES.time_field} >= $now - INTERVAL 60 SECOND AND {QUOTES.time_field} < $now HAVING count() > 0",
            "Level-1 mid price (ask_1 + bid_1) / 2 of the last report in the last minute.",
        ),
    )
}


def load_figures(extra: Mapping[str, Mapping[str, Any]]) -> dict[str, Figure]:
    """The shipped figures plus `[alerts.figures.NAME]` (sql, help) from the config."""
    out = dict(BUILTIN_FIGURES)
    for name, spec in extra.items():
        if not _NAME.match(name):
            raise ValueError(f"[alerts.figures.{name}]: not a valid Prometheus metric name")
        unknown = set(spec) - {"sql", "help"}
        if unknown or "sql" not in spec:
            raise ValueError(f"[alerts.figures.{name}]: needs `sql` (and optionally `help`), not {sorted(unknown)}")
        out[name] = Figure(name, str(spec["sql"]), str(spec.get("help", "")))
    return out


def render(sql: str, database: str, now: datetime) -> str:
    now = now.astimezone(UTC)
    ns = int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1000
    return Template(sql).substitute(
        db=database,
        now=f"toDateTime64('{now.strftime('%Y-%m-%d %H:%M:%S.%f')}', 6, 'UTC')",
        now_ns=str(ns),
        today=f"toDate('{now:%Y-%m-%d}')",
    )
