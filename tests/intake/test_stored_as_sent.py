"""A 200 means stored as sent, against a real server: values beyond their column, times at the
epoch, invalid UTF-8, deep nesting, multi-member and padded gzip, and JSON for every error."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import VitrinaProcess
from tests.intake.test_http import marker, sample, stored

JSON = {"content-type": "application/json"}
NDJSON = {"content-type": "application/x-ndjson"}


def kept(v: VitrinaProcess, mark: str) -> list[dict[str, Any]]:
    return v.sql(f"SELECT position, reason FROM vitrina.rejected WHERE position(raw, '{mark}') > 0 ORDER BY position")


def assert_json_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body: dict[str, Any] = resp.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    return body


@pytest.mark.parametrize(
    "field,value",
    [("item_id", 2**64 + 5), ("item_id", 2**64), ("company_id", -1), ("media", {"jpg": 2**64}), ("request_id", 2**64)],
)
def test_an_integer_beyond_its_column_is_422_naming_the_field(vitrina: VitrinaProcess, field: str, value: Any) -> None:
    mark = marker()
    resp = vitrina.post("/v1/streams/uploads", sample("uploads", mark) | {field: value})
    body = assert_json_error(resp, 422)
    assert [(d["index"], d["field"]) for d in body["detail"]] == [(None, field)]
    assert stored(vitrina, "uploads", mark) == 0
    assert len(kept(vitrina, mark)) == 1


def test_the_largest_uint64_is_stored_exactly_and_a_batch_keeps_its_good_items(vitrina: VitrinaProcess) -> None:
    mark = marker()
    top = 2**64 - 1
    items = [
        sample("uploads", mark) | {"item_id": top, "media": {"jpg": top}, "request_id": top},
        sample("uploads", mark) | {"item_id": 2**64 + 5},
        sample("uploads", mark) | {"item_id": 2**63},
    ]
    resp = vitrina.post("/v1/streams/uploads", items)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 2 and [(r["index"], r["field"]) for r in resp.json()["rejected"]] == [(1, "item_id")]
    rows = vitrina.sql(f"SELECT item_id, media, request_id FROM vitrina.uploads WHERE attempt_id = '{mark}' ORDER BY item_id")
    assert rows == [
        {"item_id": 2**63, "media": {"jpg": 2}, "request_id": "42"},
        {"item_id": top, "media": {"jpg": top}, "request_id": str(top)},
    ]
    assert [k["position"] for k in kept(vitrina, mark)] == ["1"]


@pytest.mark.parametrize(
    "sent,ns",
    [
        (0, 0),
        ("1970-01-01T00:00:00Z", 0),
        (1.5, 1_500_000_000),
        (999_999_999.123, 999_999_999_123_000_000),  # 2001: nine digits of seconds
        ("1999-12-31T23:59:59.999+00:00", 946_684_799_999_000_000),
        ("2262-04-11T23:47:16.854Z", 9_223_372_036_854_000_000),
    ],
)
def test_times_from_the_epoch_on_are_stored_as_sent(vitrina: VitrinaProcess, sent: Any, ns: int) -> None:
    mark = marker()
    resp = vitrina.post("/v1/streams/metrics", {"metric_name": mark, "metric_value": 1, "time": sent})
    assert resp.json() == {"accepted": 1, "rejected": []}
    assert vitrina.scalar(f"SELECT toUnixTimestamp64Nano(time) FROM vitrina.metrics WHERE metric_name = '{mark}'") == ns
    assert vitrina.scalar(f"SELECT count() FROM vitrina.rejected WHERE position(raw, '{mark}') > 0") == 0


@pytest.mark.parametrize("sent", [-1, "1969-12-31T23:59:59Z", "2262-04-12T00:00:00Z", 9_223_372_037, 1e30])
def test_times_outside_what_the_column_holds_are_422(vitrina: VitrinaProcess, sent: Any) -> None:
    mark = marker()
    resp = vitrina.post("/v1/streams/metrics", {"metric_name": mark, "metric_value": 1, "time": sent})
    body = assert_json_error(resp, 422)
    assert body["detail"][0]["field"] == "time" and "range" in body["detail"][0]["message"]
    assert stored(vitrina, "metrics", mark) == 0


def test_nanoseconds_of_a_time_string_are_kept(vitrina: VitrinaProcess) -> None:
    mark = marker()
    event = sample("uploads", mark) | {"ts_ns": "2023-11-14T22:13:20.123456789Z"}
    assert vitrina.post("/v1/streams/uploads", event).status_code == 200
    assert vitrina.scalar(f"SELECT ts_ns FROM vitrina.uploads WHERE attempt_id = '{mark}'") == 1_700_000_000_123_456_789


def _with_bad_utf8(mark: str) -> bytes:
    return json.dumps({"metric_name": mark, "metric_value": 1, "tags": {"k": "BAD"}}).encode().replace(b"BAD", b"\xff\xfe")


def _deep(mark: str) -> bytes:
    return json.dumps({"metric_name": mark, "metric_value": 1}).encode()[:-1] + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def test_invalid_utf8_rejects_the_item_alone(vitrina: VitrinaProcess) -> None:
    mark = marker()
    body = assert_json_error(vitrina.post("/v1/streams/metrics", content=_with_bad_utf8(mark), headers=JSON), 422)
    assert body["detail"] == [{"index": None, "field": "tags", "message": "a string is not valid UTF-8 (invalid start byte)"}]
    good = json.dumps(sample("metrics", mark)).encode()
    for content, headers in (
        (b"[" + good + b"," + _with_bad_utf8(mark) + b"," + good + b"]", JSON),
        (b"\n".join([good, _with_bad_utf8(mark), good]), NDJSON),
    ):
        resp = vitrina.post("/v1/streams/metrics", content=content, headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == 2 and [(r["index"], r["field"]) for r in resp.json()["rejected"]] == [(1, "tags")]
    assert stored(vitrina, "metrics", mark) == 4
    assert [k["position"] for k in kept(vitrina, mark)] == ["", "1", "1"]


def test_deep_nesting_rejects_the_item_alone(vitrina: VitrinaProcess) -> None:
    # metrics is strict: the unknown field "x" is refused before its depth is read; probes too.
    # A user stream that ignores unknown fields has to skip it, and that is where it recursed.
    mark = marker()
    single = vitrina.post("/v1/streams/metrics", content=_deep(mark), headers=JSON)
    assert_json_error(single, 422)
    resp = vitrina.post(
        "/v1/streams/metrics",
        content=b"[" + json.dumps(sample("metrics", mark)).encode() + b"," + b"[" * 100_000 + b"]" * 100_000 + b"]",
        headers=JSON,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 1 and resp.json()["rejected"][0]["index"] == 1
    assert stored(vitrina, "metrics", mark) == 1


def test_deep_nesting_in_a_lenient_stream(make_vitrina: Any) -> None:
    v = make_vitrina(
        '[streams.loose]\nstrict = false\n[streams.loose.fields]\nname = { type = "string" }\ndata = { type = "json", required = false }\n'
    )
    good = b'{"name": "ok"}'
    deep_extra = b'{"name": "deep", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    deep_json = b'{"name": "deep", "data": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}"
    body = assert_json_error(v.post("/v1/streams/loose", content=deep_extra, headers=JSON), 422)
    assert "nested too deeply" in body["detail"][0]["message"]
    for content, headers in (
        (b"[" + b",".join([good, deep_extra, deep_json, good]) + b"]", JSON),
        (b"\n".join([good, deep_extra, deep_json, good]), NDJSON),
    ):
        resp = v.post("/v1/streams/loose", content=content, headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == 2 and [r["index"] for r in resp.json()["rejected"]] == [1, 2]
    assert v.scalar("SELECT count() FROM vitrina.loose WHERE name = 'ok'") == 4
    assert v.scalar("SELECT count() FROM vitrina.rejected WHERE stream = 'loose' AND reason LIKE '%nested too deeply%'") == 5


def test_every_gzip_member_is_read(vitrina: VitrinaProcess) -> None:
    mark = marker()
    first = gzip.compress(json.dumps([sample("metrics", mark)] * 3).encode()[:-1] + b",")
    second = gzip.compress(json.dumps([sample("metrics", mark)] * 2).encode()[1:])
    resp = vitrina.post("/v1/streams/metrics", content=first + second, headers=JSON | {"content-encoding": "gzip"})
    assert resp.json() == {"accepted": 5, "rejected": []}
    lines = b"".join(gzip.compress(json.dumps(sample("metrics", mark)).encode() + b"\n") for _ in range(4))
    resp = vitrina.post("/v1/streams/metrics", content=lines, headers=NDJSON | {"content-encoding": "gzip"})
    assert resp.json() == {"accepted": 4, "rejected": []}
    assert stored(vitrina, "metrics", mark) == 9


@pytest.mark.parametrize("tail", [b"garbage", b"\x00\x00\x00\x00", b"\x1f\x8b"])
def test_bytes_after_the_gzip_data_are_400(vitrina: VitrinaProcess, tail: bytes) -> None:
    mark = marker()
    content = gzip.compress(json.dumps(sample("metrics", mark)).encode()) + tail
    body = assert_json_error(vitrina.post("/v1/streams/metrics", content=content, headers=JSON | {"content-encoding": "gzip"}), 400)
    assert body["error"] == "malformed_body"
    assert stored(vitrina, "metrics", mark) == 0


def test_a_bomb_spread_over_members_is_still_413(vitrina: VitrinaProcess) -> None:
    member = gzip.compress(b" " * (3 * 1024 * 1024))
    content = gzip.compress(b"[") + member * 4 + gzip.compress(b"]")
    assert_json_error(vitrina.post("/v1/streams/metrics", content=content, headers=JSON | {"content-encoding": "gzip"}), 413)


def test_an_unexpected_error_on_intake_is_a_json_500_with_a_logged_traceback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The app in-process, before its pipeline is opened: storing fails on a missing writer,
    which no input can cause on a running server, so it stands for a bug."""
    from vitrina.config import Settings
    from vitrina.serve.app import VitrinaApp

    app = VitrinaApp(Settings(data_dir=tmp_path))

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vitrina") as client:
            return await client.post("/v1/streams/metrics", json={"metric_name": "a", "metric_value": 1})

    with caplog.at_level(logging.ERROR, logger="vitrina.intake.http"):
        resp = asyncio.run(post())
    body = assert_json_error(resp, 500)
    assert body["error"] == "internal"
    assert any(r.exc_info and "POST /v1/streams/metrics failed" in r.getMessage() for r in caplog.records)


def test_members_are_bounded_in_number(vitrina: VitrinaProcess) -> None:
    """Each gzip member costs setup time on the event loop: 500,000 empty ones (10 MiB) are
    refused at the 1,001st, fast, instead of being inflated for seconds."""
    mark = marker()
    member = gzip.compress(b" ")
    ok = gzip.compress(json.dumps(sample("metrics", mark)).encode()) + member * 999
    assert vitrina.post("/v1/streams/metrics", content=ok, headers=JSON | {"content-encoding": "gzip"}).json()["accepted"] == 1
    many = gzip.compress(b"") * (10 * 1024 * 1024 // len(gzip.compress(b"")))
    t0 = time.monotonic()
    body = assert_json_error(vitrina.post("/v1/streams/metrics", content=many, headers=JSON | {"content-encoding": "gzip"}), 400)
    assert "more than 1000 gzip members" in body["message"] and time.monotonic() - t0 < 5
