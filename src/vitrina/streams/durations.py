"""Durations as the config file and model headers write them: one parser for alert rules
(`for`, `baseline`) and models (`cadence`, `context`).

A duration is one or more terms of a number and a unit, e.g. `30s`, `1.5m`, `1h30m`, `2w`.
Units: ms, s, m, h, d, w. This is Prometheus' grammar with decimals allowed; `prometheus()`
writes a duration back in Prometheus' own form (whole numbers only) for the exported rules.
"""

from __future__ import annotations

import re

UNITS = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_TERM = r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)"
_WHOLE = re.compile(rf"^(?:{_TERM})+$")
_TERMS = re.compile(_TERM)


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """'90s', '1.5m', '1h30m', '2w' → seconds. Raises DurationError naming the grammar."""
    cleaned = text.strip()
    if not _WHOLE.match(cleaned):
        raise DurationError(f"bad duration {text!r}: use a number and a unit (ms, s, m, h, d, w), e.g. 30s, 1.5m, 1h30m, 2w")
    units = [unit for _, unit in _TERMS.findall(cleaned)]
    if len(set(units)) != len(units):
        raise DurationError(f"bad duration {text!r}: each unit at most once")
    return sum(float(number) * UNITS[unit] for number, unit in _TERMS.findall(cleaned))


def prometheus(seconds: float) -> str:
    """Seconds as a Prometheus duration (`1m30s`, `500ms`), to the millisecond."""
    left = round(seconds * 1000)
    if left <= 0:
        return "0s"
    out = []
    for unit, size in UNITS.items():
        step = round(size * 1000)
        count, left = divmod(left, step)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
