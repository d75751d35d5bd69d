"""Reading event times the way the seed producers send them.

RFC 3339 strings (a missing offset means UTC), or epoch numbers in seconds, milliseconds,
microseconds or nanoseconds. With unit "auto" the unit is read off the magnitude, which is
unambiguous for any time between 1973 and 2262.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

MAX_NS = 2**63 - 1  # DateTime64(9) and Int64 nanoseconds end in 2262
_SCALE = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


class TimeError(ValueError):
    pass


def _auto_unit(value: float) -> str:
    magnitude = abs(value)
    if magnitude < 1e11:
        return "s"
    if magnitude < 1e14:
        return "ms"
    if magnitude < 1e17:
        return "us"
    return "ns"


def to_epoch_ns(value: str | int | float, unit: str = "auto") -> int:
    """Nanoseconds since the epoch; raises TimeError naming what is wrong."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise TimeError(f"not an RFC 3339 time or epoch number: {value[:64]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
        ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    elif isinstance(value, bool):
        raise TimeError("a time cannot be a boolean")
    else:
        if value != value or value in (float("inf"), float("-inf")):
            raise TimeError("a time must be a finite number")
        scale = _SCALE[_auto_unit(value) if unit == "auto" else unit]
        if isinstance(value, int):
            ns = value * scale
        else:
            # A double holds ~16 digits: multiplying 1.7e9 s by 1e9 would smear the fraction
            # (…20.25 s became …20.249). Scale the whole and fractional parts apart, and keep
            # the fraction to the microsecond, which is all a double of epoch seconds carries.
            whole = math.floor(value)
            ns = whole * scale + round((value - whole) * scale / 1000) * 1000
    if not 0 <= ns <= MAX_NS:
        raise TimeError("time out of range (1970-01-01 .. 2262-04-11)")
    return int(ns)
