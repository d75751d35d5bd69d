"""The Redis Streams loader: a consumer-group member that reads, validates, inserts into
ClickHouse, then XACKs.

Exactly-once effect: one XREADGROUP ('>') hands out a contiguous run of the stream, so a batch
is the entry range FIRST..LAST and its insert carries the token `redis:KEY:FIRST-LAST`. A Lua
script reads the batch and records its range in a plans hash in one atomic step; XACK and
removing the plan are one MULTI after the insert. After a crash, the pending entries (our
own, or a dead consumer's claimed with XAUTOCLAIM after `claim_idle_ms`) are replayed plan by
plan with XRANGE FIRST LAST: the same batch, the same token, deduplicated by ClickHouse.

Trimming: only entries every group has acknowledged are trimmed (XTRIM MINID).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import redis

from vitrina.config import TransportSettings
from vitrina.core import Sink
from vitrina.health import StorageHealth
from vitrina.intake.validate import StreamValidator
from vitrina.load.commit import Batch, Committer
from vitrina.load.metrics import LoaderMetrics
from vitrina.load.prepare import prepare
from vitrina.load.retry import Stopped
from vitrina.log.naming import REDIS_REJECTED_FIELD, REDIS_ROWS_FIELD, Route, routes
from vitrina.streams.declare import Stream

log = logging.getLogger(__name__)
# Entries per read at most, whatever `batch_rows` says: one read is one Lua call, and Redis
# serves nobody else (the intake's XADDs included) while it builds the reply.
_READ_MAX = 100_000

_READ = """
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not r then return false end
local e = r[1][2]
if #e == 0 then return false end
redis.call('HSET', KEYS[2], e[1][1], e[#e][1])
return e
"""
_TRIM_EVERY_S = 1.0
Entry = tuple[bytes, list[bytes]]


def _id(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


def consumer_name(transport: TransportSettings, index: int) -> str:
    """Stable per loader slot: a restarted loader finds its own pending entries at once."""
    return f"{transport.consumer or socket.gethostname()}-{index}"


class RedisLoader:
    def __init__(
        self,
        transport: TransportSettings,
        streams: dict[str, Stream],
        sink: Sink,
        metrics: LoaderMetrics,
        name: str = "loader-0",
        health: StorageHealth | None = None,
    ) -> None:
        self.t = transport
        self.routes: dict[str, Route] = routes(transport, streams)
        self.validators = {s: StreamValidator(st) for s, st in streams.items()}
        self.metrics = metrics
        self.name = name
        self.committer = Committer(sink, health, metrics.pipeline.observe_insert)
        self.redis = redis.Redis.from_url(transport.redis)
        self._read = self.redis.register_script(_READ)
        self._stop = threading.Event()

    def plans_key(self, key: str) -> str:
        return f"{key}:vitrina-plans:{self.t.group}"

    def stop(self) -> None:
        self._stop.set()

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or self._stop
        for key in self.routes:
            try:
                self.redis.xgroup_create(key, self.t.group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        next_recover = next_trim = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_recover:
                self._recover(stop)
                next_recover = now + self.t.claim_idle_ms / 2000
            got = 0
            count = min(self.t.batch_rows, _READ_MAX)
            for key, route in self.routes.items():
                entries: list[Any] | None = self._read(keys=[key, self.plans_key(key)], args=[self.t.group, self.name, count])
                if entries:
                    got += len(entries)
                    self._load(key, route, entries, stop)
            if now >= next_trim:
                self._trim()
                next_trim = now + _TRIM_EVERY_S
            if not got:
                # Wait for new entries without taking any (XREAD is not a group read).
                self.redis.xread({k: "$" for k in self.routes}, count=1, block=max(int(self.t.batch_linger_ms), 10))

    # -- loading ------------------------------------------------------------------------------

    def _load(self, key: str, route: Route, entries: list[Any], stop: threading.Event) -> bool:
        first, last = entries[0][0], entries[-1][0]
        values: list[bytes] = []
        trusted: list[bool] = []
        for _, fields in entries:
            name = fields[0] if fields else b""
            ours = not route.foreign and name in (REDIS_ROWS_FIELD, REDIS_REJECTED_FIELD)
            trusted.append(ours)
            # A foreign writer's entry: its `data` (or `json`) field, else its first value.
            values.append(fields[1] if ours or len(fields) == 2 else _pick(fields))
        arrival_ns = _id(last)[0] * 1_000_000  # the entry id's time: the same on every replay
        batch = Batch(route.table, f"redis:{key}:{first.decode()}-{last.decode()}", source="redis")
        batch = prepare(batch, self.validators.get(route.stream), values, trusted, lambda i: f"{key}/{entries[i][0].decode()}", arrival_ns)
        try:
            batch = self.committer.commit(batch, stop.is_set)
        except Stopped:
            return False  # the entries stay pending: replayed as the same batch, the same token
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(key, self.t.group, *[e[0] for e in entries])
        pipe.hdel(self.plans_key(key), first)
        pipe.execute()
        self.metrics.loaded_batch(key, batch)
        return True

    # -- recovery -----------------------------------------------------------------------------

    def _recover(self, stop: threading.Event) -> None:
        """Claim a silent consumer's pending entries, then replay every plan holding any of
        our pending entries."""
        for key, route in self.routes.items():
            cursor: bytes = b"0-0"
            while True:
                # Without JUSTID: redis-py drops the cursor from a JUSTID reply.
                reply: list[Any] = self.redis.xautoclaim(key, self.t.group, self.name, self.t.claim_idle_ms, start_id=cursor, count=10_000)
                cursor = reply[0]
                if reply[1]:
                    log.info("%s: claimed %d pending entries of %s", self.name, len(reply[1]), key)
                if cursor in (b"0-0", "0-0"):
                    break
            plans: dict[bytes, bytes] = self.redis.hgetall(self.plans_key(key))  # type: ignore[assignment]
            for first, last in sorted(plans.items(), key=lambda kv: _id(kv[0])):
                mine = self.redis.xpending_range(key, self.t.group, min=first, max=last, count=1, consumername=self.name)
                if not mine:
                    continue
                entries: list[tuple[bytes, dict[bytes, bytes]]] = self.redis.xrange(key, first, last)  # type: ignore[assignment]
                log.info("%s: replaying batch %s %s-%s (%d entries)", self.name, key, first.decode(), last.decode(), len(entries))
                if entries and not self._load(key, route, [(e[0], _flat(e[1])) for e in entries], stop):
                    return
            left = self.redis.xpending_range(key, self.t.group, min="-", max="+", count=1, consumername=self.name)
            if left:
                log.error("%s: pending entries of %s without a batch plan (from %s)", self.name, key, left[0]["message_id"])

    def _trim(self) -> None:
        """XTRIM MINID the smallest entry some group still needs; never an unloaded one."""
        for key in self.routes:
            bound: tuple[int, int] | None = None
            groups = self.redis.xinfo_groups(key)
            waiting = 0
            for g in groups:
                need = _id(self.redis.xpending(key, g["name"])["min"]) if g["pending"] else _id(g["last-delivered-id"])
                bound = need if bound is None else min(bound, need)
                if g["name"] in (self.t.group, self.t.group.encode()):
                    waiting = int(g.get("lag") or 0) + int(g["pending"])
            self.metrics.lag.labels(key, "0").set(waiting)
            if bound is not None and bound > (0, 0):
                self.redis.xtrim(key, minid=f"{bound[0]}-{bound[1]}", approximate=True)


def _flat(fields: dict[bytes, bytes]) -> list[bytes]:
    out: list[bytes] = []
    for k, v in fields.items():
        out += [k, v]
    return out


def _pick(fields: list[bytes]) -> bytes:
    pairs = dict(zip(fields[::2], fields[1::2], strict=False))
    return pairs.get(b"data") or pairs.get(b"json") or (fields[1] if len(fields) > 1 else b"")
