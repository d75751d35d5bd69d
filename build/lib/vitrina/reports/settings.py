"""`[reports]`: per-seller periodic reports, where they go and when."""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("csv", "parquet", "html")
PERIODS = ("day", "week")


@dataclass(frozen=True)
class ReportSettings:
    enabled: bool = True  # write each closed period's reports inside `vitrina up`
    # A folder (path or file:///...) or s3://bucket/prefix (credentials, region and endpoint
    # from AWS_* variables). Empty: <data_dir>/reports.
    destination: str = ""
    period: str = "day"  # day, or week (ISO weeks, Monday to Sunday, UTC)
    formats: tuple[str, ...] = FORMATS
    sellers: tuple[int, ...] = ()  # these sellers only; empty: the most active ones
    max_sellers: int = 1000  # without `sellers`: this many, most items first
    delay_s: float = 900.0  # a period is reported once models have run this long after its end
    tick_s: float = 60.0  # how often the scheduler looks for a period to report

    def __post_init__(self) -> None:
        object.__setattr__(self, "formats", tuple(self.formats))
        object.__setattr__(self, "sellers", tuple(int(s) for s in self.sellers))
        if self.period not in PERIODS:
            raise ValueError(f"[reports] period = {self.period!r}: choose one of {', '.join(PERIODS)}")
        unknown = set(self.formats) - set(FORMATS)
        if unknown or not self.formats:
            raise ValueError(f"[reports] formats = {list(self.formats)}: choose from {', '.join(FORMATS)}")
        if self.max_sellers < 1 or self.delay_s < 0 or self.tick_s <= 0:
            raise ValueError("[reports]: max_sellers must be >= 1, delay_s >= 0 and tick_s > 0")
