"""Report periods: whole UTC days or ISO weeks, as half-open [start, end) ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True)
class Period:
    kind: str  # day | week
    start: date
    end: date  # exclusive

    @property
    def label(self) -> str:
        """The folder name: 2026-11-21, or 2026-W47 for a week."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return self.start.isoformat()

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    @property
    def start_time(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def end_time(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC)


def period_of(kind: str, day: date) -> Period:
    """The period of `kind` that contains `day`."""
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=7))
    return Period(kind, day, day + timedelta(days=1))


def last_closed(kind: str, now: datetime) -> Period:
    """The latest period that ended at or before `now`."""
    current = period_of(kind, now.astimezone(UTC).date())
    return period_of(kind, current.start - timedelta(days=1))


def parse_period(kind: str, text: str) -> Period:
    """`2026-11-21` (the period containing that day) or, for weeks, `2026-W47` too."""
    try:
        if kind == "week" and "-W" in text:
            year, week = text.split("-W")
            return period_of(kind, date.fromisocalendar(int(year), int(week), 1))
        return period_of(kind, date.fromisoformat(text))
    except ValueError:
        raise ValueError(f"{text!r} is not a {kind}: use YYYY-MM-DD" + (" or YYYY-Www" if kind == "week" else "")) from None


class PeriodOpen(ValueError):
    """A period that has not ended: its reports would miss what is still to come."""


def require_closed(period: Period, now: datetime, partial: bool) -> None:
    """Refuse a period that ends after `now`, unless the caller asked for a partial report."""
    if period.end_time > now and not partial:
        raise PeriodOpen(
            f"the {period.kind} {period.label} is still open (it ends {period.end_time.isoformat()}): "
            "pass --partial (API: partial=true) to write what is stored so far"
        )
