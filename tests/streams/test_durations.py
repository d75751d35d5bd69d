"""One duration grammar for alert rules and models: decimals and weeks in both, compound terms,
and the Prometheus form the exported rules need."""

from __future__ import annotations

import pytest

from vitrina.alerts.figures import BUILTIN_FIGURES
from vitrina.alerts.rules import parse_rule
from vitrina.models.spec import ModelError, parse_model
from vitrina.streams.durations import DurationError, parse_duration, prometheus


def test_the_grammar() -> None:
    assert [parse_duration(t) for t in ("30s", "1.5m", "2w", "250ms", "1h30m", "0.5d", " 5m ")] == [
        30,
        90,
        1_209_600,
        0.25,
        5400,
        43_200,
        300,
    ]
    for bad in ("5 min", "", "m", "1.5.5s", "-1s", "1y", "5m5m", "1.s"):
        with pytest.raises(DurationError, match="bad duration"):
            parse_duration(bad)


def test_alert_rules_and_models_take_the_same_durations() -> None:
    rule = parse_rule(
        {"name": "R", "kind": "control", "figure": "vitrina_upload_attempts", "for": "1.5m", "baseline": "2w"}, BUILTIN_FIGURES
    )
    assert (rule.for_s, rule.baseline_s) == (90, 1_209_600)
    model = parse_model("m", "-- time: day\n-- order_by: day\n-- cadence: 1w\n-- context: 1.5h\nSELECT 1")
    assert (model.cadence_s, model.context_s) == (604_800, 5400)
    with pytest.raises(ModelError, match="bad duration"):
        parse_model("m", "-- time: day\n-- order_by: day\n-- cadence: 5 min\nSELECT 1")
    with pytest.raises(ValueError, match="bad duration"):
        parse_rule({"name": "R", "kind": "threshold", "figure": "vitrina_upload_attempts", "value": 1, "for": "5 min"}, BUILTIN_FIGURES)


def test_prometheus_form() -> None:
    assert [prometheus(s) for s in (0, 0.25, 90, 300, 3600, 5400, 604_800 + 86_400)] == [
        "0s",
        "250ms",
        "1m30s",
        "5m",
        "1h",
        "1h30m",
        "1w1d",
    ]
