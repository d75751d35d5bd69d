"""Per field and per source: a foreign source (a seed's topic or keys) is read as the seeds'
ClickHouse read it through JSONEachRow, vitrina's own API stays strict, and a rejected item's
reason names every bad field, on either path."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest

from vitrina.config import Settings
from vitrina.intake.validate import BadBody, StreamValidator
from vitrina.streams.builtin import METRICS, STORE_EVENTS, UPLOADS
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate


def monitor_message(**changes: object) -> bytes:
    """An `item_events` message as the upload monitor's producer sends it."""
    event = {
        "ts_ns": 1_763_800_000_000_000_000,
        "item_id": 1_234_567_890,
        "company_id": 1464,
        "category_id": 3,
        "origin": "upload/ui",
        "media": {},
        "country": "RU",
        "url_by_media": {},
        "event": "UPDATE",
        "attempt_id": "1621|282639",
        "request_id": "9f2c4e",
        "up_ts": 0,
        "is_created": False,
        "origin_id": "52",
        "data": json.dumps({"info": {"a": 1}}),
    }
    event.update(changes)
    return json.dumps(event).encode()


def pandas_row(category_code: float | str = math.nan, price: float = 3.5) -> bytes:
    """A multi-region store event from a pandas row through json.dumps (NaN as a bare token)."""
    row = {"time": 1_763_800_000.5, "type": "view", "product_id": 1, "category_id": 2, "category_code": category_code}
    row |= {"brand": math.nan, "price": price, "user_id": 4, "user_session": "NaN-session", "datacenter": "eu"}
    return json.dumps(row).encode()


def test_foreign_messages_stored_as_jsoneachrow_read_them() -> None:
    folder = Path(tempfile.mkdtemp(prefix="vitrina-foreign-"))
    wh = Warehouse(parse_dsn(f"chdb://{folder / 'ch'}", "vitrina"))
    try:
        migrate(wh, Settings().streams.values())
        up = StreamValidator(UPLOADS).for_foreign().check_json(b"[" + monitor_message() + b"]", 0)
        store = StreamValidator(STORE_EVENTS).for_foreign().check_json(pandas_row(), 0)
        assert not up.problems and not store.problems
        wh.insert_json_rows("uploads", up.rows)
        wh.insert_json_rows("store_events", store.rows)
        row = wh.query("SELECT is_created, origin_id, data FROM vitrina.uploads").result_rows[0]
        assert row == (0, 52, '{"info": {"a": 1}}')  # the text `data` held, not quoted again
        got = wh.query("SELECT category_code, brand, user_session FROM vitrina.store_events").result_rows[0]
        assert got == (None, None, "NaN-session")  # NaN tokens are nulls; "NaN" inside a string is kept
    finally:
        wh.close()


def test_own_api_stays_strict() -> None:
    checked = StreamValidator(UPLOADS).check_json(monitor_message(), 0)
    assert checked.count == 0 and checked.problems[0].field == "is_created"
    assert "origin_id: Expected `int`, got `str`" in checked.problems[0].message  # both named
    with pytest.raises(BadBody):  # NaN is not JSON: the metrics seed path answers 400
        StreamValidator(METRICS).check_json(b'{"metric_name": "m", "metric_value": NaN}', 0)


def test_nan_refused_where_a_number_is_required() -> None:
    metrics = StreamValidator(METRICS).for_foreign()
    for body in (b'{"metric_name": "m", "metric_value": NaN}', b'{"metric_name": "m", "metric_value": "nan"}'):
        checked = metrics.check_json(body, 0)
        assert checked.count == 0 and checked.problems[0].field == "metric_value", checked.problems
    price = StreamValidator(STORE_EVENTS).for_foreign().check_json(pandas_row(price=math.nan), 0)
    assert price.count == 0 and "a bare NaN" in price.problems[0].message


def test_every_bad_field_in_the_reason() -> None:
    bad = monitor_message(is_created="maybe", origin_id="70000", company_id=-5)
    checked = StreamValidator(UPLOADS).for_foreign().check_json(b"[" + monitor_message() + b"," + bad + b"]", 0)
    assert checked.count == 1 and len(checked.problems) == 1 and checked.problems[0].index == 1
    message = checked.problems[0].message
    assert checked.problems[0].field == "company_id"
    assert "is_created:" in message and "origin_id: Expected `int` <= 65535" in message, message
