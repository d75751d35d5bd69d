"""Figures: named numbers that rules test, computed by one SQL query each and exported as
Prometheus gauges of the same name (so the exported Prometheus rules read the same values).

A figure's query returns a `value` column and optionally label columns (every other column);
no row means no value. It may use $db, $now (DateTime64), $now_ns (UInt64 ns) and $today (Date).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from string import Template
from typing import Any

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")  # a Prometheus metric name


@dataclass(frozen=True)
class Figure:
    name: str
    sql: str
    help: str = ""


def _last_minute_ns() -> str:
    return "ts_ns >= $now_ns - 60000000000 AND ts_ns < $now_ns"


# Items that went live in the last minute, with their attempt time (last up_ts − first attempt),
# their attempts looked up over the last hour.
_LIVE_ITEMS = (
    "SELECT (toInt64(max(up_ts)) - toInt64(min(ts_ns))) / 1e9 AS a FROM $db.uploads "
    "WHERE ts_ns >= $now_ns - 3600000000000 AND ts_ns < $now_ns GROUP BY item_id "
    "HAVING max(up_ts) >= $now_ns - 60000000000 AND max(up_ts) < $now_ns"
)

BUILTIN_FIGURES: dict[str, Figure] = {
    f.name: f
    for f in (
        Figure(
            "vitrina_upload_failure_ratio",
            f"SELECT 1 - countIf(is_created = 1) / count() AS value FROM $db.uploads WHERE {_last_minute_ns()} HAVING count() > 0",
            "Share of the last minute's upload attempts that were not created.",
        ),
        Figure(
            "vitrina_upload_attempts",
            f"SELECT count() AS value FROM $db.uploads WHERE {_last_minute_ns()}",
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
            "SELECT uniqExact(company_id) AS value FROM $db.uploads "
            "WHERE ts_ns >= toUInt64(toUnixTimestamp(toDateTime($today, 'UTC'))) * 1000000000 AND ts_ns < $now_ns",
            "Sellers who uploaded since midnight UTC.",
        ),
        Figure(
            "vitrina_upload_items_created",
            "SELECT segment, sum(n) AS value FROM ("
            "SELECT if(ifNull(country, '') = 'RU', 'RU', 'rest') AS segment, toUInt64(uniqExact(item_id)) AS n FROM $db.uploads "
            f"WHERE is_created = 1 AND {_last_minute_ns()} GROUP BY segment "
            "UNION ALL SELECT arrayJoin(['RU', 'rest']) AS segment, toUInt64(0) AS n) GROUP BY segment",
            "Items created in the last minute, by segment (RU / rest).",
        ),
        Figure(
            "vitrina_quotes_mid_price",
            "SELECT '1' AS level, argMax((ask_1 + bid_1) / 2, timestamp) AS value FROM $db.quotes "
            "WHERE timestamp >= $now - INTERVAL 60 SECOND AND timestamp < $now HAVING count() > 0",
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
