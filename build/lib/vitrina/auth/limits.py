"""Per-key event rates: a token bucket per key that holds one second of its rate."""

from __future__ import annotations

import time


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key name -> (tokens, at)

    def take(self, name: str, rate: float, events: int) -> float:
        """Take `events` from the key's bucket: 0 when allowed, else the seconds to wait."""
        if rate <= 0:
            return 0.0
        now = time.monotonic()
        tokens, at = self._buckets.get(name, (rate, now))
        tokens = min(rate, tokens + (now - at) * rate)
        need = min(events, rate)  # a batch over one second's rate passes on a full bucket ...
        if tokens < need:
            self._buckets[name] = (tokens, now)
            return (need - tokens) / rate
        self._buckets[name] = (tokens - events, now)  # ... and is paid for by waiting later
        return 0.0
