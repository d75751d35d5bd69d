"""A stream declared in the config file gets validation, a table, rollups and docs, no code."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from vitrina.config import ConfigError, load_settings

ORDERS = """
[streams.orders]
description = "Orders of a shop"
time_field = "placed"
order_by = ["shop", "placed"]
ttl_days = 30

[streams.orders.fields]
placed = { type = "timestamp", required = false }
shop = { type = "string", max_length = 16, low_cardinality = true }
amount = { type = "float", ge = 0 }
status = { type = "enum", values = ["new", "paid"] }

[[streams.orders.rollups]]
keys = ["shop"]
aggregates = [
  { name = "orders", function = "count" },
  { name = "revenue", function = "sum", args = ["amount"], where = "status = 'paid'" },
]
figures = { avg_paid = "if(orders = 0, 0, revenue / orders)" }
"""


def test_user_declared_stream_end_to_end(make_vitrina: Any) -> None:
    v = make_vitrina(ORDERS)
    ok = v.post(
        "/v1/streams/orders",
        [
            {"shop": "a", "amount": 10, "status": "paid"},
            {"shop": "a", "amount": 5, "status": "new"},
            {"shop": "b", "amount": 1, "status": "paid"},
        ],
    )
    assert ok.json() == {"accepted": 3, "rejected": []}
    bad = v.post(
        "/v1/streams/orders", [{"shop": "toolongname-toolong", "amount": 1, "status": "paid"}, {"shop": "a", "amount": -1, "status": "x"}]
    )
    assert bad.status_code == 422 and [d["field"] for d in bad.json()["detail"]] == ["shop", "amount"]
    create = v.scalar("SHOW CREATE TABLE vitrina.orders")
    assert "TTL" in create and "ORDER BY (shop, placed)" in create
    rows = httpx.get(f"{v.url}/v1/rollups/orders", params={"last": 300, "merge_keys": "true"}).json()["data"]
    assert sum(r["orders"] for r in rows) == 3 and sum(r["revenue"] for r in rows) == 11
    assert "avg_paid" in rows[0]
    spec = httpx.get(f"{v.url}/openapi.json").json()
    assert "/v1/streams/orders" in spec["paths"] and "orders_event" in spec["components"]["schemas"]
    assert "orders" in {s["name"] for s in httpx.get(f"{v.url}/v1/streams").json()}


def test_extending_a_stream_adds_columns_on_restart(make_vitrina: Any, tmp_folder: Any) -> None:
    v = make_vitrina(ORDERS)
    assert v.post("/v1/streams/orders", {"shop": "a", "amount": 1, "status": "new"}).status_code == 200
    v.stop()
    extended = ORDERS.replace(
        'status = { type = "enum", values = ["new", "paid"] }',
        'status = { type = "enum", values = ["new", "paid"] }\ncoupon = { type = "string", required = false }',
    )
    v2 = make_vitrina(extended, data_dir=v.data_dir)
    assert v2.post("/v1/streams/orders", {"shop": "a", "amount": 1, "status": "new", "coupon": "X1"}).status_code == 200
    assert v2.sql("SELECT coupon, count() AS n FROM vitrina.orders GROUP BY coupon ORDER BY coupon NULLS FIRST") == [
        {"coupon": None, "n": 1},
        {"coupon": "X1", "n": 1},
    ]


@pytest.mark.parametrize(
    "text,message",
    [
        ("[streams.metrics.fields]\na = { type = 'string' }", "built-in"),
        ("[streams.x.fields]\na = { type = 'strin' }", "unknown type"),
        ("[streams.x]\nfields = {}", "declare its fields"),
        ("[streams.x.fields]\na = { type = 'enum' }", "needs `values`"),
        ("[streams.X.fields]\na = { type = 'string' }", "must match"),
        ("[writer]\nflush_row = 1", "unknown settings"),
        # declared bounds must lie within the column, and defaults within the bounds
        ("[streams.x.fields]\na = { type = 'uint', le = 18446744073709551616 }", "the column's range"),
        ("[streams.x.fields]\na = { type = 'int', ge = -9223372036854775809 }", "the column's range"),
        ("[streams.x.fields]\na = { type = 'uint', ge = -1 }", "the column's range"),
        ("[streams.x.fields]\na = { type = 'int', le = 1.5 }", "whole number"),
        ("[streams.x.fields]\na = { type = 'string', ge = 1 }", "ge / le apply to"),
        ("[streams.x.fields]\na = { type = 'uint', ge = 5, le = 1 }", "ge is above le"),
        ("[streams.x.fields]\na = { type = 'uint', le = 10, required = false, default = 11 }", "default 11 is not valid"),
        ("[streams.x.fields]\na = { type = 'float', required = false, default = 'x' }", "default 'x' is not valid"),
        ("nonsense = = 1", "Invalid value"),
    ],
)
def test_bad_config_is_named(tmp_path: Any, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


CHECKED = """
[streams.counts]
[streams.counts.fields]
at = { type = "timestamp", required = false, precision = 9 }
small = { type = "uint", le = 1000 }
signed = { type = "int", required = false, default = 0 }
big = { type = "uint", required = false, default = 0 }
"""


def test_a_user_stream_gets_the_same_range_checks(make_vitrina: Any) -> None:
    v = make_vitrina(CHECKED)
    assert "UInt16" in v.scalar("SELECT type FROM system.columns WHERE database = 'vitrina' AND table = 'counts' AND name = 'small'")
    items = [
        {"small": 1000, "signed": -(2**63), "big": 2**64 - 1, "at": "2023-11-14T22:13:20.123456789Z"},
        {"small": 1001},
        {"small": 1, "signed": -(2**63) - 1},
        {"small": 1, "big": 2**64},
        {"small": 1, "at": 0},
    ]
    resp = v.post("/v1/streams/counts", items)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 2
    assert [(r["index"], r["field"]) for r in resp.json()["rejected"]] == [(1, "small"), (2, "signed"), (3, "big")]
    rows = v.sql("SELECT small, signed, big, toUnixTimestamp64Nano(at) AS ns FROM vitrina.counts ORDER BY small")
    assert rows[0] == {"small": 1, "signed": 0, "big": 0, "ns": 0}
    assert rows[1] == {"small": 1000, "signed": -(2**63), "big": 2**64 - 1, "ns": 1_700_000_000_123_456_789}
