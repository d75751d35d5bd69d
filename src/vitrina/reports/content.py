"""What a seller's report holds, read for every reported seller at once: one table of days
(the upload models' per-seller figures and anomaly flags) and one of categories (from the raw
uploads), each then split by seller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from string import Template

import pyarrow as pa

from vitrina.models.db import Db
from vitrina.models.state import last_ok_run_at
from vitrina.reports.periods import Period

# The models a report reads; `anomalies` depends on `sellers daily`, so running it runs both.
SOURCE_MODEL = "uploads_seller_anomalies"

# Tables are named `$db.NAME`, the engine policy's rule: on a cluster they read NAME_all.
_SELLERS = """
SELECT company_id FROM $db.uploads_sellers_daily
WHERE day >= {start:Date} AND day < {end:Date}
GROUP BY company_id ORDER BY sum(items) DESC, company_id LIMIT {n:UInt32}
"""

_DAYS = """
SELECT d.company_id AS seller, d.day AS day, d.attempts AS attempts, d.items AS items,
    d.created_items AS created_items, d.items_rank AS items_rank, d.top10 AS top10,
    a.baseline_mean AS baseline_mean, a.threshold AS threshold, a.anomaly AS anomaly
FROM $db.uploads_sellers_daily AS d
LEFT JOIN $db.uploads_seller_anomalies AS a ON a.day = d.day AND a.company_id = d.company_id
WHERE d.day >= {start:Date} AND d.day < {end:Date} AND d.company_id IN {sellers:Array(UInt64)}
ORDER BY seller, day
SETTINGS join_use_nulls = 0
"""

_CATEGORIES = """
SELECT company_id AS seller, category_id, count() AS attempts, uniqExact(item_id) AS items,
    uniqExactIf(item_id, is_created = 1) AS created_items
FROM $db.uploads
WHERE ts_ns >= {start_ns:UInt64} AND ts_ns < {end_ns:UInt64} AND company_id IN {sellers:Array(UInt64)}
GROUP BY seller, category_id
ORDER BY seller, items DESC, category_id
"""


@dataclass
class SellerReport:
    seller: int
    days: pa.Table
    categories: pa.Table


@dataclass
class Content:
    period: Period
    models_as_of: datetime | None  # the last successful run of the models the report reads
    sellers: list[SellerReport]


class ModelsMissing(Exception):
    """The upload models have never run on this warehouse."""


def read_content(db: Db, period: Period, sellers: tuple[int, ...], max_sellers: int) -> Content:
    models_as_of = last_ok_run_at(db).get(SOURCE_MODEL)
    if models_as_of is None:
        raise ModelsMissing(f"the model {SOURCE_MODEL} has not run yet: run `vitrina models run {SOURCE_MODEL}`")
    bounds = {"start": period.start, "end": period.end}
    chosen = list(sellers) or [int(r) for r in db.arrow(_sql(db, _SELLERS), {**bounds, "n": max_sellers})["company_id"].to_pylist()]
    days = db.arrow(_sql(db, _DAYS), {**bounds, "sellers": chosen})
    span = {"start_ns": int(period.start_time.timestamp()) * 10**9, "end_ns": int(period.end_time.timestamp()) * 10**9}
    categories = db.arrow(_sql(db, _CATEGORIES), {**span, "sellers": chosen})
    by_days, by_categories = _split(days), _split(categories)
    empty_days, empty_categories = days.slice(0, 0), categories.slice(0, 0)
    reports = [SellerReport(s, by_days.get(s, empty_days), by_categories.get(s, empty_categories)) for s in chosen]
    return Content(period, models_as_of, reports)


def _sql(db: Db, template: str) -> str:
    return Template(db.policy.reads(template)).substitute(db=db.database)


def _split(table: pa.Table) -> dict[int, pa.Table]:
    """Rows of each seller (the table is ordered by seller)."""
    out: dict[int, pa.Table] = {}
    sellers = table["seller"].to_pylist()
    start = 0
    for i in range(1, len(sellers) + 1):
        if i == len(sellers) or sellers[i] != sellers[start]:
            out[int(sellers[start])] = table.slice(start, i - start)
            start = i
    return out
