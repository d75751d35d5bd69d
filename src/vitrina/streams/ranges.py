"""What each ClickHouse column type can hold, as the validator and the docs need it.

A value the validator accepts must be stored unchanged: an integer beyond its column wraps
silently in ClickHouse (2**64 + 5 became 5), so every range here is enforced before a request
is answered (tests/streams/test_ranges_clickhouse.py checks the boundaries against chdb).
"""

from __future__ import annotations

import sys

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
# Unsigned columns by their declared upper bound: the narrowest type that holds it.
UINTS = ((2**8 - 1, "UInt8"), (2**16 - 1, "UInt16"), (2**32 - 1, "UInt32"), (UINT64_MAX, "UInt64"))
FLOAT_MAX = sys.float_info.max  # Float64 holds every finite double; NaN and Infinity are not JSON

# Times: nanoseconds since the epoch in [0, 2**63 - 1], 1970-01-01 .. 2262-04-11T23:47:16.854775807Z.
# Within what DateTime64 holds at any precision (1900 .. 2299, 2262 at precision 9) and what
# an epoch_ns UInt64 holds; earlier times are refused (an epoch number cannot be negative here).
MAX_NS = INT64_MAX
UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
# With unit "auto" a number's unit is read off its magnitude: below 1e11 seconds, below 1e14
# milliseconds, below 1e17 microseconds, else nanoseconds.
AUTO_UNITS = ((1e11, "s"), (1e14, "ms"), (1e17, "us"), (float("inf"), "ns"))


def uint_type(upper: int) -> str:
    return next(name for bound, name in UINTS if upper <= bound)


def time_number_ranges(unit: str) -> list[tuple[int, float | int]]:
    """Closed ranges of epoch numbers that are valid times in `unit`: one per magnitude band
    for "auto", each up to 2262-04-11T23:47:16.854775807Z (as a double, so a number a hair
    below that end may be in the range and still refused: never the other way round)."""
    if unit != "auto":
        return [(0, _end(unit))]
    out: list[tuple[int, float | int]] = []
    low = 0
    for below, band in AUTO_UNITS:
        out.append((low, _end(band)))
        low = int(below) if below != float("inf") else 0
    return out


def _end(unit: str) -> float | int:
    return MAX_NS if unit == "ns" else MAX_NS / UNIT_NS[unit]
