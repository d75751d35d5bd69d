"""The Redis Streams loader: a consumer-group member that reads, validates, inserts into
ClickHouse, then XACKs.

Exactly-once effect: one XREADGROUP ('>') hands out a contiguous run of the stream, so a batch
is the entry range FIRST..LAST and its insert carries the token `redis:KEY:FIRST-LAST`. A Lua
script reads the batch and records its range in a plans hash in one atomic step; XACK and
removing the plan are one MULTI after the insert. After a crash, the pending entries (our
own, or a dead consumer's claimed with XAUTOCLAIM after `claim_idle_ms`) are replayed plan by
plan with XRANGE FIRST LAST: the same batch, the same token, deduplicated by ClickHouse.

Trimming: only entries every group has acknowledged are trimmed (XTRIM MINID).

A key that cannot be read (a string key named under [transport.foreign], ...) is skipped and
retried, and shown on /readyz; the other streams go on loading. [transport.redis_keys] string
keys are moved into streams first (log/redis_keys.py).
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
from vitrina.log.redis_keys import KeyMover
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
_RETRY_S = 10.0  # a failing key (wrong type, ...) is tried again after this
_FAILED = object()  # what `_guard` returns for work that failed
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
        self.health = health
        self.mover = KeyMover(self.redis, transport, name)
        self._broken: dict[str, float] = {}  # keys failing: when to try them again

    def plans_key(self, key: str) -> str:
        return f"{key}:vitrina-plans:{self.t.group}"

    def stop(self) -> None:
        self._stop.set()

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or self._stop
        try:
            self._run(stop)
        except redis.ConnectionError as exc:
            if self.health is not None:
                self.health.source_failed("redis", f"unreachable: {exc}")
            raise

    def _run(self, stop: threading.Event) -> None:
        self._ready_groups()
        if self.health is not None:
            self.health.source_ok("redis")
        next_recover = next_trim = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_recover:
                self._each_key(lambda key, route: self._recover_key(key, route, stop))
                next_recover = now + self.t.claim_idle_ms / 2000
            self._move_keys()
            got = 0
            count = min(self.t.batch_rows, _READ_MAX)
            for key, route in self._readable():
                entries = self._guard(key, lambda k, n=count: self._read(keys=[k, self.plans_key(k)], args=[self.t.group, self.name, n]))
                if isinstance(entries, list) and entries:
                    got += len(entries)
                    self._load(key, route, entries, stop)
            if now >= next_trim:
                self._each_key(lambda key, route: self._trim_key(key))
                next_trim = now + _TRIM_EVERY_S
            if not got:
                self._wait(stop)

    def _wait(self, stop: threading.Event) -> None:
        """Wait for new entries without taking any (XREAD is not a group read)."""
        block = max(int(self.t.batch_linger_ms), 10)
        keys = [k for k, _ in self._readable()]
        if not keys or self.mover.globs:  # string keys wake nobody: look again after the linger
            stop.wait(block / 1000)
            return
        try:
            self.redis.xread(dict.fromkeys(keys, "$"), count=1, block=block)
        except redis.ResponseError:  # a key changed type meanwhile: the next read marks it
            stop.wait(block / 1000)

    # -- one key's failure stops only that key ------------------------------------------------

    def _ready_groups(self) -> None:
        for key in self.routes:
            self._guard(key, self._create_group)

    def _create_group(self, key: str) -> None:
        try:
            self.redis.xgroup_create(key, self.t.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _readable(self) -> list[tuple[str, Route]]:
        """The routes not failing, and the failing ones due for another try (their group
        made first: a key of the wrong type may have become a stream)."""
        now = time.monotonic()
        out = []
        for key, route in self.routes.items():
            retry_at = self._broken.get(key)
            if retry_at is not None and (now < retry_at or self._guard(key, self._create_group, retry=True) is _FAILED):
                continue
            out.append((key, route))
        return out

    def _each_key(self, work: Any) -> None:
        for key, route in self._readable():
            self._guard(key, lambda k, r=route: work(k, r))

    def _guard(self, key: str, work: Any, retry: bool = False) -> Any:
        """`work(key)`; a Redis error about this key (WRONGTYPE: a string key named as a
        stream, ...) marks the key failing for `_RETRY_S` and shows on /readyz, instead of
        stopping every other stream. An unreachable Redis stops the loader (restarted)."""
        try:
            out = work(key)
        except redis.ResponseError as exc:
            if key not in self._broken or retry:
                log.error("%s: Redis key %s cannot be read, retrying in %.0f s: %s", self.name, key, _RETRY_S, exc)
            self._broken[key] = time.monotonic() + _RETRY_S
            if self.health is not None:
                self.health.source_failed(f"redis key {key}", str(exc))
            return _FAILED
        if key in self._broken:
            del self._broken[key]
            log.info("%s: Redis key %s is readable again", self.name, key)
            if self.health is not None:
                self.health.source_ok(f"redis key {key}")
        return out

    def _move_keys(self) -> None:
        """[transport.redis_keys]: a page of matching string keys into their streams."""
        if not self.mover.globs:
            return
        step = self._guard("keys " + ", ".join(self.mover.globs), lambda _: self.mover.step())
        if step is _FAILED:
            return
        for glob, n in step.moved.items():
            self.metrics.keys_moved.labels(glob).inc(n)
        for glob, n in step.vanished.items():
            self.metrics.keys_vanished.labels(glob).inc(n)
            log.warning("%s: %d keys matching %r expired (or were deleted) before they were moved", self.name, n, glob)

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

    def _recover_key(self, key: str, route: Route, stop: threading.Event) -> None:
        """Claim a silent consumer's pending entries of `key`, then replay every plan holding
        any of our pending entries."""
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

    def _trim_key(self, key: str) -> None:
        """XTRIM MINID the smallest entry some group still needs; never an unloaded one."""
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
