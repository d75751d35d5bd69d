"""Reading event times the way the seed producers send them.

RFC 3339 strings (a missing offset means UTC), or epoch numbers in seconds, milliseconds,
microseconds or nanoseconds. With unit "auto" the unit is read off the magnitude, which is
unambiguous for any time between 1973 and 2262.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from vitrina.streams.ranges import AUTO_UNITS, MAX_NS, UNIT_NS

# datetime keeps microseconds: digits 7-9 of a fraction are read here (beyond 9 they are
# below what any column stores).
_SUB_MICRO = re.compile(r"(?<=[0-9][.,][0-9]{6})([0-9]{1,3})[0-9]*")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimeError(ValueError):
    pass


def _auto_unit(value: float) -> str:
    magnitude = abs(value)
    return next(unit for below, unit in AUTO_UNITS if magnitude < below)


def _parse_text(value: str) -> int:
    extra_ns = 0
    sub = _SUB_MICRO.search(value)
    if sub is not None:
        extra_ns = int(sub.group(1).ljust(3, "0"))
        value = value[: sub.start()] + value[sub.end() :]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TimeError(f"not an RFC 3339 time or epoch number: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000 + extra_ns


def to_epoch_ns(value: str | int | float, unit: str = "auto") -> int:
    """Nanoseconds since the epoch; raises TimeError naming what is wrong."""
    if isinstance(value, str):
        ns = _parse_text(value)
    elif isinstance(value, bool):
        raise TimeError("a time cannot be a boolean")
    else:
        if value != value or value in (float("inf"), float("-inf")):
            raise TimeError("a time must be a finite number")
        if value < 0:  # before it is rounded: -1e-200 s is not 1970-01-01
            raise TimeError("time out of range (1970-01-01 .. 2262-04-11T23:47:16.854775807Z)")
        scale = UNIT_NS[_auto_unit(value) if unit == "auto" else unit]
        if isinstance(value, int):
            ns = value * scale
        else:
            # A double holds ~16 digits: multiplying 1.7e9 s by 1e9 would smear the fraction
            # (…20.25 s became …20.249). Scale the whole and fractional parts apart, and keep
            # the fraction to the microsecond, which is all a double of epoch seconds carries.
            whole = math.floor(value)
            ns = whole * scale + round((value - whole) * scale / 1000) * 1000
    if not 0 <= ns <= MAX_NS:
        raise TimeError("time out of range (1970-01-01 .. 2262-04-11T23:47:16.854775807Z)")
    return int(ns)
