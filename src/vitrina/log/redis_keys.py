"""Redis string keys as a source (`[transport.redis_keys]`, the multi-region store's producers:
one uuid4 key per event, SETNX then EXPIRE 600).

A server-side script moves each matching string key into a vitrina Redis stream in one atomic
step (GET, XADD, DEL), so a key is in exactly one place at any moment, whenever a process is
killed; the stream loader (load/redis_loader.py) then loads the stream exactly once by entry
ids. Keys of other types (vitrina's own streams and plans among them) are skipped. Once moved,
a key no longer expires: its TTL was the seed's loss window.

One mover at a time (a lease in a Redis hash, which the mover skips as not a string): a key
that SCAN saw and that was gone when the move came then expired, or another client deleted
it; those are counted (vitrina_redis_keys_vanished).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis

from vitrina.config import TransportSettings
from vitrina.log.naming import keys_stream_of

log = logging.getLogger(__name__)

# KEYS[1]: the target stream; KEYS[2..]: keys SCAN returned. One status per key: "moved", or
# the key's type ("none": gone) when it is not a string and stays where it is.
MOVE = """
local out = {}
for i = 2, #KEYS do
  local k = KEYS[i]
  local t = redis.call('TYPE', k)['ok']
  if t == 'string' then
    redis.call('XADD', KEYS[1], '*', 'data', redis.call('GET', k), 'key', k)
    redis.call('DEL', k)
    out[#out + 1] = 'moved'
  else
    out[#out + 1] = t
  end
end
return out
"""
# KEYS[1]: the lease hash; ARGV: holder, lease ms. 1 when the caller holds the lease.
LEASE = """
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder == false or holder == ARGV[1] then
  redis.call('HSET', KEYS[1], 'holder', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
SCAN_COUNT = 1000  # keys looked at per SCAN call (one move script per call)
LEASE_MS = 15_000


@dataclass
class Moved:
    """What one step did, per glob."""

    moved: dict[str, int] = field(default_factory=dict)
    vanished: dict[str, int] = field(default_factory=dict)


class KeyMover:
    def __init__(self, client: redis.Redis, transport: TransportSettings, holder: str) -> None:
        self.redis = client
        self.globs = {glob: keys_stream_of(transport, stream) for glob, stream in transport.redis_keys.items()}
        self.lease_key = f"{transport.topic_prefix}keys-mover:{transport.group}"
        self.holder = holder
        self._move = client.register_script(MOVE)
        self._lease = client.register_script(LEASE)
        self._cursors = dict.fromkeys(self.globs, 0)

    def step(self) -> Moved:
        """One SCAN page per glob, its string keys moved; nothing unless this mover holds the lease."""
        out = Moved()
        if not self.globs or not self._lease(keys=[self.lease_key], args=[self.holder, LEASE_MS]):
            return out
        for glob, target in self.globs.items():
            cursor, names = self.redis.scan(self._cursors[glob], match=glob, count=SCAN_COUNT)
            self._cursors[glob] = int(cursor)
            if not names:
                continue
            statuses: list[Any] = self._move(keys=[target, *names])
            moved = sum(1 for s in statuses if s in (b"moved", "moved"))
            vanished = sum(1 for s in statuses if s in (b"none", "none"))
            if moved:
                out.moved[glob] = moved
            if vanished:
                out.vanished[glob] = vanished
        return out
