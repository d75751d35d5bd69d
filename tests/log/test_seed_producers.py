"""The seeds' producers, with their messages shaped exactly as they send them, through a real
Tansu: the upload monitor's `item_events` carry `"is_created": false` (a JSON bool),
`"origin_id": "52"` (a numeric string) and `data` as a JSON string holding an object. They load
as the seed's ClickHouse (JSONEachRow) read them, and a bad message's reason names every bad
field."""

from __future__ import annotations

import json
from typing import Any

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic

from tests.log.helpers import transport_config, wait_for
from tests.log.services import Tansu


def upload_monitor_message(i: int) -> bytes:
    """What the upload monitor's producer puts on `item_events` (its JSON types, not its table's)."""
    created = i % 4 == 0
    ts_ns = 1_763_800_000_000_000_000 + i * 1_000_000
    return json.dumps(
        {
            "ts_ns": ts_ns,
            "item_id": 1_000_000_000 + i,
            "company_id": 1000 + i % 90,
            "category_id": 1 + i % 500,
            "origin": "upload/api",
            "media": {},
            "country": ("CN", "US", "RU", "DE")[i % 4],
            "url_by_media": {},
            "event": "SAVE" if created else "UPDATE",
            "attempt_id": f"{1600 + i}|282639",
            "request_id": f"{i:032x}",
            "up_ts": ts_ns + 7_000_000_000 if created else 0,
            "is_created": created,
            "origin_id": str(1 + i % 100),
            "data": json.dumps({"info": {"attempt": i, "client": "monitor"}}),
        }
    ).encode()


def test_upload_monitor_messages_load_as_sent(tansu: Tansu, make_vitrina: Any) -> None:
    admin = AdminClient({"bootstrap.servers": tansu.bootstrap})
    for fut in admin.create_topics([NewTopic("item_events", 4, 1)]).values():
        fut.result(30)
    bad = json.loads(upload_monitor_message(999))
    bad.update(is_created="maybe", origin_id="70000", company_id=-5)  # three bad fields in one message
    p = confluent_kafka.Producer({"bootstrap.servers": tansu.bootstrap})
    for i in range(150):
        p.produce("item_events", upload_monitor_message(i), partition=i % 4)
    p.produce("item_events", json.dumps(bad).encode(), partition=0)
    assert p.flush(30) == 0
    v = make_vitrina(transport_config() + '[transport.foreign]\nitem_events = "uploads"\n', extra_args=["--kafka", tansu.bootstrap])
    wait_for(v, lambda: v.scalar("SELECT count() FROM vitrina.rejected") == 1, 60, "the bad message rejected")
    wait_for(v, lambda: v.scalar("SELECT count() FROM vitrina.uploads") == 150, 60, "all 150 real messages stored")
    row = v.sql("SELECT is_created, origin_id, data, attempt_id FROM vitrina.uploads WHERE item_id = 1000000052")[0]
    # the bool as 0 / 1, the quoted number as the number, `data` as the text it held (not re-quoted)
    assert row["is_created"] == 1 and row["origin_id"] == 53 and row["attempt_id"] == "1652|282639"
    assert json.loads(row["data"]) == {"info": {"attempt": 52, "client": "monitor"}}
    assert v.scalar("SELECT countIf(is_created = 0) FROM vitrina.uploads") == 150 - 38
    reason = v.sql("SELECT reason FROM vitrina.rejected")[0]["reason"]
    assert all(name in reason for name in ("company_id", "is_created", "origin_id")), reason
