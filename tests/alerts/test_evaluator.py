"""The evaluator's state machine, `for` durations, restarts, control chart, p-chart and absence,
driven by a clock and a figure source in the test (no warehouse)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vitrina.alerts.evaluator import Evaluator, Values
from vitrina.alerts.figures import BUILTIN_FIGURES
from vitrina.alerts.notify import Alert, webhook_payload
from vitrina.alerts.rules import Rule, load_rules, parse_rule
from vitrina.alerts.settings import AlertSettings
from vitrina.alerts.state import StateStore, labels_key

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FIGURES = {**BUILTIN_FIGURES}


class Source:
    """Figures set by the test; samples kept in memory."""

    def __init__(self) -> None:
        self.current: Values = {}
        self.samples: list[tuple[datetime, str, str, float]] = []

    def set(self, figure: str, value: float | None, **labels: str) -> None:
        got = self.current.setdefault(figure, {})
        got.pop(labels_key(labels), None)
        if value is not None:
            got[labels_key(labels)] = (labels, value)

    def values(self, figures: Sequence[str], now: datetime) -> Values:
        return {f: dict(self.current.get(f, {})) for f in figures}

    def record(self, now: datetime, values: Values) -> None:
        self.samples += [(now, f, k, v) for f, got in values.items() for k, (_, v) in got.items()]

    def baseline(self, figure: str, key: str, since: datetime, now: datetime) -> tuple[float, float] | None:
        vals = [v for t, f, k, v in self.samples if f == figure and k == key and since < t <= now]
        if not vals:
            return None
        mean = sum(vals) / len(vals)
        return mean, math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))


def rule(**spec: Any) -> Rule:
    return parse_rule({"name": "R", "figure": "vitrina_upload_failure_ratio", **spec}, FIGURES)


def make(rules: list[Rule], tmp_path: Path, source: Source) -> tuple[Evaluator, list[Alert]]:
    sent: list[Alert] = []
    return Evaluator(rules, source, StateStore(tmp_path / "state.json"), sent.extend), sent


def states(ev: Evaluator) -> dict[str, str]:
    return {i.rule + i.key[1]: i.state for i in ev.instances.values()}


def test_threshold_pending_firing_resolved_with_for(tmp_path: Path) -> None:
    src = Source()
    ev, sent = make([rule(kind="threshold", op=">", value=0.5, **{"for": "5m"}, labels={"severity": "critical"})], tmp_path, src)
    src.set("vitrina_upload_failure_ratio", 0.8)
    ev.evaluate(T0)
    assert states(ev) == {"R{}": "pending"} and not sent
    ev.evaluate(T0 + timedelta(minutes=4, seconds=59))
    assert states(ev) == {"R{}": "pending"} and not sent
    ev.evaluate(T0 + timedelta(minutes=5))  # exactly `for` later
    assert states(ev) == {"R{}": "firing"} and [a.status for a in sent] == ["firing"]
    assert sent[0].labels == {"alertname": "R", "severity": "critical"} and sent[0].starts_at == T0.timestamp()
    ev.evaluate(T0 + timedelta(minutes=6))
    assert len(sent) == 1  # still firing: no new notification
    src.set("vitrina_upload_failure_ratio", 0.5)  # not above 0.5
    ev.evaluate(T0 + timedelta(minutes=7))
    assert states(ev) == {"R{}": "resolved"} and [a.status for a in sent] == ["firing", "resolved"]
    assert sent[1].ends_at == (T0 + timedelta(minutes=7)).timestamp()
    # a blip shorter than `for` goes pending and back to inactive without a notification
    src.set("vitrina_upload_failure_ratio", 0.9)
    ev.evaluate(T0 + timedelta(minutes=8))
    src.set("vitrina_upload_failure_ratio", 0.1)
    ev.evaluate(T0 + timedelta(minutes=9))
    assert states(ev) == {"R{}": "inactive"} and len(sent) == 2


def test_state_survives_a_restart(tmp_path: Path) -> None:
    src = Source()
    r = rule(kind="threshold", op=">", value=0.5, **{"for": "5m"})
    ev, _ = make([r], tmp_path, src)
    src.set("vitrina_upload_failure_ratio", 0.8)
    ev.evaluate(T0)
    ev2, sent = make([r], tmp_path, src)  # a new process on the same data folder
    assert states(ev2) == {"R{}": "pending"}
    ev2.evaluate(T0 + timedelta(minutes=5))  # the pending timer kept running across the restart
    assert [a.status for a in sent] == ["firing"] and sent[0].starts_at == T0.timestamp()


def test_control_chart_fires_above_mean_plus_k_sigma_of_the_baseline(tmp_path: Path) -> None:
    src = Source()
    ev, _ = make([rule(kind="control", k=1.5, baseline="10m", figure="vitrina_upload_attempt_mean_seconds")], tmp_path, src)
    history = [10.0, 12.0, 10.0, 12.0]
    for i, v in enumerate(history):
        src.set("vitrina_upload_attempt_mean_seconds", v)
        ev.evaluate(T0 + timedelta(minutes=i))
    assert states(ev) == {"R{}": "inactive"}
    src.set("vitrina_upload_attempt_mean_seconds", 20.0)
    check = ev.check(T0 + timedelta(minutes=4))  # a dry run records nothing: the window is the four samples
    mean, sigma = 11.0, 1.0
    assert check[0].active and math.isclose(check[0].limit or 0, mean + 1.5 * sigma)
    ev.evaluate(T0 + timedelta(minutes=4))  # the current sample is in the window, as in Prometheus
    window = [*history, 20.0]
    mean = sum(window) / 5  # 12.8
    sigma = math.sqrt(sum((x - mean) ** 2 for x in window) / 5)  # 3.709
    assert states(ev) == {"R{}": "firing"}  # 20 > 12.8 + 1.5 * 3.709 = 18.36
    assert math.isclose(ev.check(T0 + timedelta(minutes=4))[0].limit or 0, mean + 1.5 * sigma)
    # samples older than the baseline window leave it
    src.set("vitrina_upload_attempt_mean_seconds", 10.0)
    ev.evaluate(T0 + timedelta(minutes=30))
    assert states(ev) == {"R{}": "resolved"}


def test_p_chart_limit_narrows_with_the_number_of_trials(tmp_path: Path) -> None:
    src = Source()
    r = rule(kind="pchart", k=3, baseline="1h", size_figure="vitrina_upload_attempts")
    ev, _ = make([r], tmp_path, src)
    for i in range(3):
        src.set("vitrina_upload_failure_ratio", 0.1)
        src.set("vitrina_upload_attempts", 100)
        ev.evaluate(T0 + timedelta(minutes=i))
    src.set("vitrina_upload_failure_ratio", 0.5)
    src.set("vitrina_upload_attempts", 4)
    ev.evaluate(T0 + timedelta(minutes=3))
    # p̄ = (0.1 * 3 + 0.5) / 4 = 0.2; with n = 4: 0.2 + 3 sqrt(0.2 * 0.8 / 4) = 0.8 > 0.5
    assert states(ev) == {"R{}": "inactive"}
    assert math.isclose(ev.check(T0 + timedelta(minutes=3))[0].limit or 0, 0.2 + 3 * math.sqrt(0.2 * 0.8 / 4))
    src.set("vitrina_upload_attempts", 100)  # with n = 100: 0.2 + 3 sqrt(0.0016) = 0.32 < 0.5
    assert ev.check(T0 + timedelta(minutes=3))[0].active


def test_absence_fires_on_zero_or_no_value_per_label_set(tmp_path: Path) -> None:
    src = Source()
    ev, sent = make([rule(kind="absence", figure="vitrina_upload_items_created")], tmp_path, src)
    ev.evaluate(T0)  # no value at all
    assert states(ev) == {"R{}": "firing"} and sent[0].labels == {"alertname": "R"}
    src.set("vitrina_upload_items_created", 0, segment="RU")
    src.set("vitrina_upload_items_created", 3, segment="rest")
    ev.evaluate(T0 + timedelta(minutes=1))
    got = states(ev)
    assert got['R{"segment":"RU"}'] == "firing" and got['R{"segment":"rest"}'] == "inactive" and got["R{}"] == "resolved"


def test_webhook_payload_is_alertmanager_format() -> None:
    a = Alert("firing", {"alertname": "R", "severity": "critical"}, {"summary": "s"}, T0.timestamp(), None)
    b = Alert("firing", {"alertname": "R", "severity": "critical", "segment": "RU"}, {"summary": "s"}, T0.timestamp(), None)
    p = webhook_payload([a, b])
    assert p["version"] == "4" and p["status"] == "firing" and p["groupLabels"] == {"alertname": "R"}
    assert p["commonLabels"] == {"alertname": "R", "severity": "critical"} and p["commonAnnotations"] == {"summary": "s"}
    assert p["alerts"][0]["startsAt"] == "2026-05-01T12:00:00Z" and p["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert set(p["alerts"][0]) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}


def test_shipped_rules_and_config_errors() -> None:
    rules = {r.name: r for r in load_rules(AlertSettings(quotes_mid_threshold=12.5))}
    assert len(rules) == 7
    assert (rules["UploadFailureRateHigh"].value, rules["UploadFailureRateHigh"].for_, rules["UploadFailureRateHigh"].labels) == (
        0.5,
        "5m",
        {"severity": "critical"},
    )
    assert rules["UploadNoItemsCreated"].kind == "absence" and rules["UploadNoItemsCreated"].labels["severity"] == "critical"
    assert rules["QuotesMidPriceHigh"].value == 12.5
    with pytest.raises(ValueError, match="unknown figure"):
        AlertSettings(rules=({"name": "X", "kind": "threshold", "figure": "nope", "value": 1},))
    with pytest.raises(ValueError, match="size_figure"):
        AlertSettings(rules=({"name": "X", "kind": "pchart", "figure": "vitrina_upload_failure_ratio"},))
    with pytest.raises(ValueError, match="duration"):
        AlertSettings(rules=({"name": "X", "kind": "threshold", "figure": "vitrina_upload_failure_ratio", "value": 1, "for": "5 min"},))
