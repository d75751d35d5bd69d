"""Report periods: days and ISO weeks, the last closed one, and what a user may type."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from vitrina.config import ConfigError, load_settings
from vitrina.reports.periods import last_closed, parse_period, period_of


def test_days_and_weeks() -> None:
    day = period_of("day", date(2026, 11, 21))
    assert (day.start, day.end, day.label) == (date(2026, 11, 21), date(2026, 11, 22), "2026-11-21")
    week = period_of("week", date(2026, 11, 21))  # a Saturday
    assert (week.start, week.end, week.label) == (date(2026, 11, 16), date(2026, 11, 23), "2026-W47")
    assert len(week.days) == 7 and week.end_time == datetime(2026, 11, 23, tzinfo=UTC)
    new_year = period_of("week", date(2027, 1, 1))  # ISO week 53 of 2026
    assert new_year.label == "2026-W53" and new_year.start == date(2026, 12, 28)


def test_last_closed_period() -> None:
    now = datetime(2026, 11, 22, 0, 0, 1, tzinfo=UTC)
    assert last_closed("day", now).label == "2026-11-21"
    assert last_closed("week", now).label == "2026-W46"  # W47 ends on the 23rd
    assert last_closed("week", datetime(2026, 11, 23, tzinfo=UTC)).label == "2026-W47"


def test_parsing() -> None:
    assert parse_period("week", "2026-W47") == parse_period("week", "2026-11-20")
    assert parse_period("day", "2026-11-20").label == "2026-11-20"
    with pytest.raises(ValueError, match="is not a week: use YYYY-MM-DD or YYYY-Www"):
        parse_period("week", "2026-W60")
    with pytest.raises(ValueError, match="is not a day"):
        parse_period("day", "yesterday")


def test_settings_are_checked(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[reports]\nperiod = "month"\n')
    with pytest.raises(ConfigError, match="choose one of day, week"):
        load_settings(config)
    config.write_text('[reports]\nformats = ["pdf"]\n')
    with pytest.raises(ConfigError, match="choose from csv, parquet, html"):
        load_settings(config)
    config.write_text('[reports]\nsellers = [3, 1]\nformats = ["csv"]\n')
    s = load_settings(config).reports
    assert s.sellers == (3, 1) and s.formats == ("csv",)
