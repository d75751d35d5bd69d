"""The time window of one model run and the SQL literals it puts into the model's SELECT.

Windows are whole UTC days, from the day the look-back reaches back to, open-ended: every
partition (day) from there on is recomputed, so a late event inside the look-back changes its
day and every later figure that depends on it (WAU, MAU, anomaly baselines)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from string import Template
from typing import Annotated, Any

from pydantic import BeforeValidator

from vitrina.streams.builtin import ITEM_FAILURE_RATE

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OPEN_END = datetime(2200, 1, 1, tzinfo=UTC)  # within DateTime64(3) and UInt64 nanoseconds


def as_utc(t: datetime) -> datetime:
    """A naive time is taken as UTC (ClickHouse and API clients often send those)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _text_only(value: Any) -> Any:
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("a time is an RFC 3339 string")
    return value


# A time in an API request body: an RFC 3339 string, as documented (pydantic alone would also
# take a number as epoch seconds, which the OpenAPI document does not say).
RequestTime = Annotated[datetime, BeforeValidator(_text_only)]


def day_floor(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Window:
    start: datetime  # midnight UTC
    end: datetime = OPEN_END

    @classmethod
    def full(cls) -> Window:
        return cls(EPOCH)

    @classmethod
    def incremental(cls, now: datetime, last_run_at: datetime | None, lookback_s: float) -> Window:
        """From the look-back before the earlier of now and the last successful run, so a
        scheduler that was down for days catches up too. No earlier run: everything."""
        if last_run_at is None:
            return cls.full()
        return cls(max(EPOCH, day_floor(min(now, last_run_at) - timedelta(seconds=lookback_s))))

    @property
    def start_partition(self) -> str:
        return self.start.strftime("%Y%m%d")


def sql_time(t: datetime) -> str:
    return f"toDateTime64('{t.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}', 3, 'UTC')"


def _ns(t: datetime) -> str:
    return str(int((t - EPOCH).total_seconds()) * 1_000_000_000 + t.microsecond * 1000)


def render(sql: str, window: Window, context_s: float, database: str, our_hosts: tuple[str, ...]) -> str:
    ctx = max(EPOCH, window.start - timedelta(seconds=context_s))
    hosts = ", ".join("'" + h.replace("\\", "\\\\").replace("'", "\\'") + "'" for h in our_hosts)
    values = {
        "db": database,
        "start": sql_time(window.start),
        "end": sql_time(window.end),
        "ctx_start": sql_time(ctx),
        "start_day": f"toDate('{window.start:%Y-%m-%d}')",
        "ctx_start_day": f"toDate('{ctx:%Y-%m-%d}')",
        "start_ns": _ns(window.start),
        "ctx_start_ns": _ns(ctx),
        "end_ns": _ns(window.end),
        "our_hosts": f"CAST([{hosts}], 'Array(String)')",
        "item_failure_rate": ITEM_FAILURE_RATE,  # over per-item rows with a `created` column
    }
    return Template(sql).substitute(values)
