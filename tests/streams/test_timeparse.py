from __future__ import annotations

import pytest

from vitrina.streams.timeparse import TimeError, to_epoch_ns

NS = 1_700_000_000_000_000_000


@pytest.mark.parametrize(
    "value,unit,expected",
    [
        (1_700_000_000, "auto", NS),
        (1_700_000_000_000, "auto", NS),
        (1_700_000_000_000_000, "auto", NS),
        (NS, "auto", NS),
        (1_700_000_000.5, "auto", NS + 500_000_000),
        ("2023-11-14T22:13:20Z", "auto", NS),
        ("2023-11-14T22:13:20", "auto", NS),
        ("2023-11-15T01:13:20+03:00", "auto", NS),
        ("2023-11-14 22:13:20.123456", "auto", NS + 123_456_000),
        (5, "ns", 5),
        (5, "s", 5_000_000_000),
        (0, "auto", 0),
    ],
)
def test_units(value: object, unit: str, expected: int) -> None:
    assert to_epoch_ns(value, unit) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["tomorrow", "", -1, 10**20 * 1000, float("nan"), True, "1700000000"])
def test_refused(value: object) -> None:
    with pytest.raises(TimeError):
        to_epoch_ns(value)  # type: ignore[arg-type]
