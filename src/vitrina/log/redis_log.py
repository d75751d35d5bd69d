"""The Log of `[transport] kind = "redis"`: XADD one entry per event, in a MULTI; a request is
answered after Redis replied. The loaders (load/redis_loader.py) insert from the streams.

The MAXLEN policy never trims entries that were not loaded: producers do not trim at all;
instead, past `redis_max_len` entries in a stream intake answers 503 (backpressure), and the
loader trims only what every consumer group has acknowledged (XTRIM MINID, load/redis_loader).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Iterable

import redis.asyncio as aioredis

from vitrina.config import TransportSettings
from vitrina.core import REJECTED_TABLE, Overloaded, StorageError
from vitrina.log.base import split_rows
from vitrina.log.naming import REDIS_REJECTED_FIELD, REDIS_ROWS_FIELD, topic_of

log = logging.getLogger(__name__)
_LEN_CHECK_S = 0.1  # how often a stream's length is looked at for backpressure


class RedisLog:
    def __init__(self, settings: TransportSettings, streams: Iterable[str]) -> None:
        self.settings = settings
        self.keys = {s: topic_of(settings, s) for s in (*streams, REJECTED_TABLE)}
        self.redis = aioredis.Redis.from_url(settings.redis)
        self._lengths: dict[str, tuple[float, int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> int:
        return 0  # each request waits for its own MULTI

    @property
    def backlog(self) -> int:
        """Nothing here: what is acknowledged is in Redis; its loaders' lag is vitrina_loader_lag."""
        return 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop  # the connections belong to it: close() closes them there

    async def _check_length(self, key: str) -> None:
        now = time.monotonic()
        seen = self._lengths.get(key)
        if seen is None or now - seen[0] > _LEN_CHECK_S:
            seen = (now, int(await self.redis.xlen(key)))
            self._lengths[key] = seen
        if seen[1] >= self.settings.redis_max_len:
            raise Overloaded(f"{seen[1]} entries wait in Redis stream {key}")

    def submit(
        self, stream: str, rows: bytes, count: int, key: bytes | None = None, rejected: bytes = b"", rejected_count: int = 0
    ) -> Awaitable[None]:
        return self._send(stream, rows, rejected)

    async def _send(self, stream: str, rows: bytes, rejected: bytes) -> None:
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

    def flush(self, timeout: float) -> bool:
        """Nothing to insert here: the loader group inserts from Redis."""
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Every submit was answered before it returned: only the connections are left, closed
        on the event loop they belong to."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return  # never started, or the loop is gone and its connections with it
        done = asyncio.run_coroutine_threadsafe(self.redis.aclose(), loop)
        try:
            done.result(timeout)
        except Exception as exc:  # a connection already broken: nothing left to close
            log.warning("closing the Redis connections: %s", exc)
            with contextlib.suppress(Exception):
                done.cancel()
