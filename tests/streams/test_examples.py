"""Each stream's example event (the first-event guide's curl line) is derived from its
declaration and is valid: the validator takes it whole, for the built-in streams and for a
user stream with bounds, a pattern and a required time in milliseconds."""

from __future__ import annotations

import json
import shlex
import time

import msgspec

from vitrina.config import Settings
from vitrina.intake.validate import StreamValidator
from vitrina.streams.declare import parse_stream
from vitrina.streams.examples import NOW, curl_line, example_event, with_now

USER = parse_stream(
    "readings",
    {
        "time_field": "at",
        "fields": {
            "at": {"type": "timestamp", "unit": "ms"},
            "sensor": {"type": "id", "max_length": 3},
            "level": {"type": "uint", "ge": 5, "le": 9},
            "delta": {"type": "int", "ge": -3, "le": -2},
            "ratio": {"type": "float", "ge": 2.5},
            "code": {"type": "string", "pattern": "^[A-Z]{2}$", "example": "DE"},
            "ok": {"type": "bool"},
            "kind": {"type": "enum", "values": ["x", "y"]},
            "extra": {"type": "json"},
            "tags": {"type": "map_string"},
            "counts": {"type": "map_uint"},
            "series": {"type": "array_float"},
            "note": {"type": "string", "required": False},
        },
    },
)


def test_every_example_event_is_valid() -> None:
    now = int(time.time())
    for stream in (*Settings().streams.values(), USER):
        event = with_now(example_event(stream), now)
        checked = StreamValidator(stream).check_json(msgspec.json.encode(event), now * 10**9)
        assert checked.problems == [] and checked.count == 1, (stream.name, checked.problems)
        assert {f.name for f in stream.fields if f.required} <= set(event)


def test_the_curl_line_sends_the_event_with_the_time_of_sending() -> None:
    line = curl_line(USER, "http://host:1")
    words = shlex.split(line.replace("$(date +%s)", "1700000000"))
    assert words[:4] == ["curl", "-sS", "-X", "POST"] and words[4] == "http://host:1/v1/streams/readings"
    body = json.loads(words[words.index("-d") + 1])
    assert body["at"] == 1700000000000  # milliseconds, as the field reads numbers
    assert body["code"] == "DE" and 5 <= body["level"] <= 9 and body["delta"] == -2 and body["ratio"] >= 2.5
    assert "note" not in body and NOW not in line


def test_with_auth_the_line_sends_the_key_from_the_environment() -> None:
    words = shlex.split(curl_line(USER, "http://host:1", key=True))
    assert words[words.index("-H", 6) + 1] == "Authorization: Bearer $VITRINA_API_KEY"  # expanded by the shell: the key is never shown
