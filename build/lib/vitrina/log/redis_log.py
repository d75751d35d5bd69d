"""Redis Streams producer for intake: XADD one entry per event, answered after Redis replied.

The MAXLEN policy never trims entries that were not loaded: producers do not trim at all;
instead, past `redis_max_len` entries in a stream intake answers 503 (backpressure), and the
loader trims only what every consumer group has acknowledged (XTRIM MINID, load/redis_loader).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import redis.asyncio as aioredis

from vitrina.config import TransportSettings
from vitrina.load.group_commit import Overloaded, StorageError
from vitrina.log.naming import REDIS_REJECTED_FIELD, REDIS_ROWS_FIELD, topic_of
from vitrina.log.producer import split_rows
from vitrina.warehouse.ddl import REJECTED_TABLE

_LEN_CHECK_S = 0.1  # how often a stream's length is looked at for backpressure


class RedisLog:
    def __init__(self, settings: TransportSettings, streams: Iterable[str]) -> None:
        self.settings = settings
        self.keys = {s: topic_of(settings, s) for s in (*streams, REJECTED_TABLE)}
        self.redis = aioredis.Redis.from_url(settings.redis)
        self._lengths: dict[str, tuple[float, int]] = {}

    async def _check_length(self, key: str) -> None:
        now = time.monotonic()
        seen = self._lengths.get(key)
        if seen is None or now - seen[0] > _LEN_CHECK_S:
            seen = (now, int(await self.redis.xlen(key)))
            self._lengths[key] = seen
        if seen[1] >= self.settings.redis_max_len:
            raise Overloaded(f"{seen[1]} entries wait in Redis stream {key}")

    async def send(self, stream: str, rows: bytes, rejected: bytes, key: bytes | None) -> None:
        items = [(self.keys[stream], REDIS_ROWS_FIELD, r) for r in split_rows(rows)]
        items += [(self.keys[REJECTED_TABLE], REDIS_REJECTED_FIELD, r) for r in split_rows(rejected)]
        if not items:
            return
        try:
            await self._check_length(self.keys[stream])
            # One round trip; MULTI so that a request's events are appended together, in order.
            async with self.redis.pipeline(transaction=True) as pipe:
                for k, fieldname, value in items:
                    pipe.xadd(k, {fieldname: value})
                await pipe.execute()
        except aioredis.RedisError as exc:
            raise StorageError(f"Redis did not take the events: {exc}") from None

    def close(self) -> None:
        pass  # every send was answered before it returned

    async def aclose(self) -> None:
        await self.redis.aclose()
