"""Which topic (or Redis stream key) carries which stream, and how its messages read.

vitrina's own topics carry one event per message, already validated by the intake and marked
with the `vitrina` header (Redis: the `r` field), so the loader inserts them as they are.
Foreign topics (the seeds' `item_events`, `metrics_raw`) carry one JSON object (or array) per
message in the stream's declared format and are validated by the loader. Redis string keys
([transport.redis_keys], the multi-region store's) are moved into a stream of their own first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vitrina.config import ConfigError, TransportSettings
from vitrina.core import REJECTED_TABLE

ROWS_HEADER = "vitrina"  # Kafka header on messages holding validated rows
ROWS_MARK = b"rows"
REJECTED_MARK = b"rejected"  # a message holding a row of the rejected table
REDIS_ROWS_FIELD = b"r"  # Redis entry field holding one validated row
REDIS_REJECTED_FIELD = b"x"  # ... one row of the rejected table


@dataclass(frozen=True)
class Route:
    """Where the messages of one topic go."""

    topic: str
    stream: str  # a stream name, or REJECTED_TABLE
    foreign: bool = False

    @property
    def table(self) -> str:
        return self.stream


def keys_stream_of(settings: TransportSettings, stream: str) -> str:
    """The Redis stream that string keys of `stream` ([transport.redis_keys]) are moved into."""
    return f"{topic_of(settings, stream)}.from-keys"


def topic_of(settings: TransportSettings, stream: str) -> str:
    return settings.topics.get(stream) or f"{settings.topic_prefix}{stream}"


def routes(settings: TransportSettings, streams: Iterable[str]) -> dict[str, Route]:
    """Every topic the loader reads, by topic name."""
    streams = list(streams)
    out: dict[str, Route] = {}
    for stream in (*streams, REJECTED_TABLE):
        topic = topic_of(settings, stream)
        out[topic] = Route(topic, stream)
    for topic, stream in settings.foreign.items():
        if stream not in streams:
            raise ConfigError(f"[transport.foreign] {topic} = {stream!r}: no such stream; streams: {', '.join(streams)}")
        out[topic] = Route(topic, stream, foreign=True)
    if settings.kind != "redis":
        return out
    for glob, stream in settings.redis_keys.items():
        if stream not in streams:
            raise ConfigError(f"[transport.redis_keys] {glob!r} = {stream!r}: no such stream; streams: {', '.join(streams)}")
        key = keys_stream_of(settings, stream)
        out[key] = Route(key, stream, foreign=True)
    return out
