"""HTTP intake against a real server: every stream's happy path and bad-input matrix, the seed
paths, batches with bad items, gzip, NDJSON, 404/413/415."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import VitrinaProcess


# One valid event per stream, in the seeds' formats, each carrying a marker to find it again.
def sample(stream: str, marker: str) -> dict[str, Any]:
    if stream == "metrics":
        return {"metric_name": marker, "metric_value": 3}
    if stream == "uploads":
        return {
            "ts_ns": 1_700_000_000_000_000_000,
            "item_id": 1_234_567_890,
            "company_id": 1001,
            "category_id": 7,
            "origin": "upload/ui",
            "media": {"jpg": 2},
            "country": None,
            "url_by_media": {"jpg:https://cdn.host/1.jpg": 1},
            "event": "SAVE",
            "attempt_id": marker,
            "request_id": 42,
            "up_ts": 1_700_000_010_000_000_000,
            "is_created": 1,
            "origin_id": 3,
            "data": {"any": ["json"]},
        }
    if stream == "quotes":
        levels = {f"bid_{i}": float(i) for i in range(1, 51)} | {f"ask_{i}": float(i) + 0.5 for i in range(1, 51)}
        return {"timestamp": 1_700_000_000.25, **levels, "stats": [25.5, 26.0]}
    if stream == "site_events":
        return {
            "dt": "2024-05-01T07:00:00Z",
            "name": "click",
            "user_id": 5,
            "url": "https://shop.example/cart",
            "obj": "button",
            "obj_id": marker,
            "product_id": 2,
            "amount": 10.0,
            "exp": {"a": "b"},
        }
    if stream == "store_events":
        return {
            "time": "2024-05-01T07:00:00+03:00",
            "type": "purchase",
            "product_id": 9,
            "category_id": 3,
            "category_code": "electronics.smartphone",
            "brand": None,
            "price": 99.5,
            "user_id": 77,
            "user_session": marker,
            "datacenter": "eu",
        }
    if stream == "probes":
        return {"time": 1_700_000_000_123, "location": "eu-west", "target": marker, "status_code": 200, "response_time_ms": 12.5}
    raise KeyError(stream)


# Where each stream's marker lands, to count stored rows.
MARKER_COLUMN = {
    "metrics": "metric_name",
    "uploads": "attempt_id",
    "quotes": None,
    "site_events": "obj_id",
    "store_events": "user_session",
    "probes": "target",
}
STREAMS = list(MARKER_COLUMN)

# (stream, field, bad value or DELETE, expected status) -- each must be named in the error.
DELETE = object()
BAD = [
    ("metrics", "metric_value", "high", 422),
    ("metrics", "metric_value", DELETE, 422),
    ("metrics", "metric_name", "x" * 300, 422),
    ("metrics", "metric_value", True, 422),
    ("metrics", "time", "yesterday", 422),
    ("metrics", "tags", {"a": 1}, 422),
    ("uploads", "item_id", -1, 422),
    ("uploads", "event", "SAVED", 422),
    ("uploads", "ts_ns", "soon", 422),
    ("uploads", "media", {"jpg": "two"}, 422),
    ("uploads", "is_created", 2, 422),
    ("uploads", "company_id", DELETE, 422),
    ("quotes", "bid_7", "1.5", 422),
    ("quotes", "ask_50", DELETE, 422),
    ("quotes", "stats", [1, "x"], 422),
    ("site_events", "url", "not a url", 422),
    ("site_events", "user_id", -5, 422),
    ("site_events", "amount", -1, 422),
    ("site_events", "dt", DELETE, 422),
    ("site_events", "exp", ["a"], 422),
    ("store_events", "type", "refund", 422),
    ("store_events", "price", -0.01, 422),
    ("store_events", "user_session", DELETE, 422),
    ("probes", "status_code", 1000, 422),
    ("probes", "response_time_ms", "fast", 422),
    ("probes", "location", 5, 422),
]


def marker() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def stored(v: VitrinaProcess, stream: str, mark: str) -> int:
    column = MARKER_COLUMN[stream]
    if column is None:
        return int(v.scalar(f"SELECT count() FROM vitrina.{stream} WHERE stats = [25.5, 26.0] AND bid_1 = 1"))
    return int(v.scalar(f"SELECT count() FROM vitrina.{stream} WHERE {column} = '{mark}'"))


@pytest.mark.parametrize("stream", STREAMS)
def test_each_stream_stores_one_object_and_a_batch(vitrina: VitrinaProcess, stream: str) -> None:
    mark = marker()
    before = stored(vitrina, stream, mark)
    one = vitrina.post(f"/v1/streams/{stream}", sample(stream, mark))
    assert one.status_code == 200, one.text
    assert one.json() == {"accepted": 1, "rejected": []}
    batch = vitrina.post(f"/v1/streams/{stream}", [sample(stream, mark) for _ in range(5)])
    assert batch.json() == {"accepted": 5, "rejected": []}
    assert stored(vitrina, stream, mark) == before + 6


def test_values_are_stored_as_sent(vitrina: VitrinaProcess) -> None:
    mark = marker()
    assert vitrina.post("/v1/streams/uploads", sample("uploads", mark)).status_code == 200
    row = vitrina.sql(f"SELECT ts_ns, request_id, data, country, media, is_created FROM vitrina.uploads WHERE attempt_id = '{mark}'")[0]
    assert row == {
        "ts_ns": 1_700_000_000_000_000_000,
        "request_id": "42",
        "data": '{"any":["json"]}',
        "country": None,
        "media": {"jpg": 2},
        "is_created": 1,
    }
    mark = marker()
    assert vitrina.post("/v1/streams/store_events", sample("store_events", mark)).status_code == 200
    when = vitrina.scalar(f"SELECT toString(time) FROM vitrina.store_events WHERE user_session = '{mark}'")
    assert when == "2024-05-01 04:00:00.000"  # +03:00 converted to UTC
    mark = marker()
    assert vitrina.post("/v1/streams/probes", sample("probes", mark)).status_code == 200
    assert vitrina.scalar(f"SELECT toString(time) FROM vitrina.probes WHERE target = '{mark}'") == "2023-11-14 22:13:20.123"


@pytest.mark.parametrize(
    "value,expected",
    [
        (1_700_000_000, "2023-11-14 22:13:20.000"),
        (1_700_000_000_500, "2023-11-14 22:13:20.500"),
        (1_700_000_000_500_000_000, "2023-11-14 22:13:20.500"),
        ("2023-11-14T22:13:20.5Z", "2023-11-14 22:13:20.500"),
        (1_700_000_000.25, "2023-11-14 22:13:20.250"),
    ],
)
def test_time_in_every_unit(vitrina: VitrinaProcess, value: Any, expected: str) -> None:
    mark = marker()
    assert vitrina.post("/v1/streams/metrics", {"metric_name": mark, "metric_value": 1, "time": value}).status_code == 200
    assert vitrina.scalar(f"SELECT toString(time) FROM vitrina.metrics WHERE metric_name = '{mark}'") == expected


def test_missing_time_is_the_arrival_time(vitrina: VitrinaProcess) -> None:
    mark = marker()
    assert vitrina.post("/v1/streams/metrics", {"metric_name": mark, "metric_value": 1}).status_code == 200
    lag = vitrina.scalar(f"SELECT abs(dateDiff('millisecond', time, _received)) FROM vitrina.metrics WHERE metric_name = '{mark}'")
    assert lag < 2000


@pytest.mark.parametrize("stream,field,value,status", BAD, ids=[f"{s}.{f}" for s, f, _, _ in BAD])
def test_bad_input_names_the_field_and_is_kept(vitrina: VitrinaProcess, stream: str, field: str, value: Any, status: int) -> None:
    mark = marker()
    event = sample(stream, mark)
    if value is DELETE:
        del event[field]
    else:
        event[field] = value
    kept_sql = f"SELECT count() FROM vitrina.rejected WHERE stream = '{stream}' AND startsWith(reason, '{field}: ')"
    before = vitrina.scalar(kept_sql)
    resp = vitrina.post(f"/v1/streams/{stream}", event)
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == "invalid_items"
    assert [d["field"] for d in body["detail"]] == [field]
    assert field in body["message"]
    assert vitrina.scalar(kept_sql) == before + 1
    if MARKER_COLUMN[stream] and field != MARKER_COLUMN[stream]:
        assert vitrina.scalar(f"SELECT count() FROM vitrina.rejected WHERE position(raw, '{mark}') > 0") == 1


def test_unknown_field_is_refused_where_strict(vitrina: VitrinaProcess) -> None:
    resp = vitrina.post("/events/", sample("site_events", marker()) | {"referrer": "x"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "referrer"


def test_mixed_batch_keeps_good_items_and_rejects_bad_ones_alone(vitrina: VitrinaProcess) -> None:
    mark = marker()
    items: list[Any] = [sample("metrics", mark) for _ in range(6)]
    items[1] = {"metric_name": mark, "metric_value": "NaN"}
    items[4] = {"metric_name": mark}
    items.append(17)
    resp = vitrina.post("/v1/streams/metrics", items)
    assert resp.status_code == 200
    body = resp.json()
    assert body["accepted"] == 4
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [(1, "metric_value"), (4, "metric_value"), (6, None)]
    assert stored(vitrina, "metrics", mark) == 4
    kept = vitrina.sql(f"SELECT position, raw FROM vitrina.rejected WHERE raw LIKE '%{mark}%' ORDER BY position")
    assert [k["position"] for k in kept] == ["1", "4"]


def test_all_bad_batch_is_422_and_stores_nothing(vitrina: VitrinaProcess) -> None:
    mark = marker()
    resp = vitrina.post("/v1/streams/metrics", [{"metric_name": mark, "metric_value": "x"}] * 3)
    assert resp.status_code == 422
    assert [d["index"] for d in resp.json()["detail"]] == [0, 1, 2]
    assert stored(vitrina, "metrics", mark) == 0


def test_ndjson_with_a_malformed_line(vitrina: VitrinaProcess) -> None:
    mark = marker()
    lines = [json.dumps(sample("metrics", mark)), "{not json", "", json.dumps(sample("metrics", mark))]
    resp = vitrina.post("/v1/streams/metrics", content="\n".join(lines).encode(), headers={"content-type": "application/x-ndjson"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["accepted"] == 2 and body["rejected"][0]["index"] == 1 and "malformed" in body["rejected"][0]["message"]
    assert stored(vitrina, "metrics", mark) == 2


@pytest.mark.parametrize("ndjson", [False, True])
def test_gzip_bodies(vitrina: VitrinaProcess, ndjson: bool) -> None:
    mark = marker()
    events = [sample("metrics", mark) for _ in range(100)]
    text = "\n".join(json.dumps(e) for e in events) if ndjson else json.dumps(events)
    headers = {"content-encoding": "gzip", "content-type": "application/x-ndjson" if ndjson else "application/json"}
    resp = vitrina.post("/v1/streams/metrics", content=gzip.compress(text.encode()), headers=headers)
    assert resp.json() == {"accepted": 100, "rejected": []}
    assert stored(vitrina, "metrics", mark) == 100


def test_seed_paths_answer_as_the_seeds_did(vitrina: VitrinaProcess) -> None:
    mark = marker()
    ok = vitrina.post("/upload/metrics/", {"metric_name": mark, "metric_value": 3})
    assert ok.status_code == 200 and ok.json() == {"message": "ok"}
    assert vitrina.post("/upload/metrics/", {"metric_name": mark, "metric_value": 10.5}).json() == {"message": "ok"}
    # the reference crashed with a 500 on a list: here it is a batch
    assert vitrina.post("/upload/metrics/", [{"metric_name": mark, "metric_value": 1}]).json() == {"message": "ok"}
    for bad in ({"metric_name": mark}, {"metric_value": 1.0}, {"metric_name": mark, "metric_value": "1"}):
        assert vitrina.post("/upload/metrics/", bad).status_code == 400
    assert stored(vitrina, "metrics", mark) == 3
    ev = vitrina.post("/events/", sample("site_events", mark))
    assert ev.status_code == 200 and ev.json() == {"message": "ok"}
    assert vitrina.post("/events/", sample("site_events", mark) | {"user_id": "x"}).status_code == 422
    kind = vitrina.scalar(f"SELECT event_type FROM vitrina.site_events WHERE obj_id = '{mark}'")
    assert kind == mark  # a button click's event type is its obj_id (add_to_cart, checkout, ...)


@pytest.mark.parametrize(
    "body,headers,status,error",
    [
        (b"{", {"content-type": "application/json"}, 400, "malformed_body"),
        (b'"just a string"', {"content-type": "application/json"}, 400, "malformed_body"),
        (b"", {"content-type": "application/json"}, 400, "malformed_body"),
        (b"[1, 2", {"content-type": "application/json"}, 400, "malformed_body"),
        (b"\xff\xfe", {"content-type": "application/json"}, 400, "malformed_body"),
        (b"metric_name=a", {"content-type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        (b"{}", {"content-type": "application/json", "content-encoding": "br"}, 415, "unsupported_encoding"),
        (b"not gzip", {"content-type": "application/json", "content-encoding": "gzip"}, 400, "malformed_body"),
    ],
)
def test_bad_bodies(vitrina: VitrinaProcess, body: bytes, headers: dict[str, str], status: int, error: str) -> None:
    resp = vitrina.post("/v1/streams/metrics", content=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == error


def test_unknown_stream_is_named(vitrina: VitrinaProcess) -> None:
    resp = vitrina.post("/v1/streams/orders", {"a": 1})
    assert resp.status_code == 404
    assert "orders" in resp.json()["message"] and "metrics" in resp.json()["message"]


def test_body_over_the_limit_is_413(vitrina: VitrinaProcess) -> None:
    big = b"[" + b",".join([b'{"metric_name":"big","metric_value":1}'] * 300_000) + b"]"  # ~11 MB > 10 MiB
    assert vitrina.post("/v1/streams/metrics", content=big, headers={"content-type": "application/json"}).status_code == 413
    # a gzip bomb: small on the wire, over the limit once inflated
    bomb = gzip.compress(b"[" + b" " * (11 * 1024 * 1024) + b"]")
    resp = vitrina.post("/v1/streams/metrics", content=bomb, headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert resp.status_code == 413 and "decompressed" in resp.json()["message"]

    # a chunked body without Content-Length is counted as it arrives
    def chunks() -> Any:
        for _ in range(12):
            yield b" " * (1024 * 1024)

    with httpx.Client() as client:
        resp = client.post(f"{vitrina.url}/v1/streams/metrics", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 413


def test_no_500_from_odd_input(vitrina: VitrinaProcess) -> None:
    odd = [
        b"null",
        b"[]",
        b"[null]",
        b"[[]]",
        b'{"metric_name": null, "metric_value": 1}',
        b'{"metric_value": 1e999, "metric_name": "x"}',
        b'{"metric_value": NaN, "metric_name": "x"}',
        b'{"metric_value": Infinity, "metric_name": "x"}',
        b'{"metric_name": "\\ud800", "metric_value": 1}',
        b"\x00\x01",
        b'{"metric_name": "a", "metric_value": 1, "time": -5}',
        b'{"metric_name": "a", "metric_value": 1, "time": 1e30}',
        b'{"metric_name": "a", "metric_value": 99999999999999999999999999}',
    ]
    for body in odd:
        resp = vitrina.post("/v1/streams/metrics", content=body, headers={"content-type": "application/json"})
        assert 200 <= resp.status_code < 500, (body, resp.status_code, resp.text)
        assert resp.headers["content-type"] == "application/json"
