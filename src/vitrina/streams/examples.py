"""A valid example event of a stream, from its declaration: every required field with a value
its kind (or the field's own `example`) gives, optional fields only where an example is
declared. A required time is "now", written as a shell substitution in the curl line."""

from __future__ import annotations

import json
from typing import Any

from vitrina.streams.declare import Stream
from vitrina.streams.ranges import UNIT_NS

NOW = "\x00now\x00"  # where a time of the moment the event is sent goes
_DIGITS_PER_SECOND = {unit: len(str(ns)) - 1 for unit, ns in UNIT_NS.items()}


def example_event(stream: Stream) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in stream.fields:
        if not f.required and f.example is None:
            continue
        value = f.example_value()
        out[f.name] = NOW if value is None else value
    return out


def with_now(event: dict[str, Any], now_s: int) -> dict[str, Any]:
    """The event as sent at `now_s` (epoch seconds)."""
    return {k: now_s if v == NOW else v for k, v in event.items()}


def curl_line(stream: Stream, origin: str, key: bool = False) -> str:
    """A POSIX shell command that sends the example event, a required time being `date`'s now;
    `key`: with the API key from $VITRINA_API_KEY (an install with [auth] enabled)."""
    event = example_event(stream)
    text = json.dumps(event, ensure_ascii=False).replace("'", "'\\''")
    for f in stream.fields:
        if event.get(f.name) == NOW:
            # the unit the field reads numbers in ("auto": seconds by their magnitude)
            zeros = "0" * (_DIGITS_PER_SECOND["s"] - _DIGITS_PER_SECOND[f.unit]) if f.unit not in ("auto", "s") else ""
            text = text.replace(json.dumps(NOW), f"'\"$(date +%s){zeros}\"'", 1)
    auth = ' -H "Authorization: Bearer $VITRINA_API_KEY"' if key else ""
    return f"curl -sS -X POST '{origin}/v1/streams/{stream.name}' -H 'content-type: application/json'{auth} -d '{text}'"
