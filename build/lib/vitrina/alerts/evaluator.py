"""The evaluator: each round computes the figures the rules use, tests every rule on every label
set, moves its instances through inactive → pending → firing → resolved, persists the states and
notifies on firing and resolved. Its clock is injectable, so tests drive time."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from vitrina.alerts.notify import Alert, expand
from vitrina.alerts.rules import OPS, Rule
from vitrina.alerts.state import Instance, StateStore, labels_key

log = logging.getLogger(__name__)

# figure → labels key → (labels, value)
Values = dict[str, dict[str, tuple[dict[str, str], float]]]


class FigureSource(Protocol):
    def values(self, figures: Sequence[str], now: datetime) -> Values: ...

    def record(self, now: datetime, values: Values) -> None:
        """Keep samples of these figures for baselines."""

    def baseline(self, figure: str, key: str, since: datetime, now: datetime) -> tuple[float, float] | None:
        """Mean and population sigma of the samples in (since, now], None without samples."""


@dataclass(frozen=True)
class Check:
    """One rule on one label set at one moment (what `vitrina alerts check` prints)."""

    rule: str
    labels: dict[str, str]
    value: float | None
    active: bool
    limit: float | None  # the bound the value was compared with


def _now() -> datetime:
    return datetime.now(UTC)


class Evaluator:
    def __init__(
        self,
        rules: Sequence[Rule],
        source: FigureSource,
        store: StateStore,
        notify: Callable[[list[Alert]], None],
        clock: Callable[[], datetime] = _now,
        on_values: Callable[[Values], None] | None = None,
    ) -> None:
        self.rules = list(rules)
        self.source = source
        self.store = store
        self.notify = notify
        self.clock = clock
        self.on_values = on_values
        self.instances = store.load()
        self._lock = threading.Lock()  # one round at a time (timer and API)

    def exclusive(self, fn: Callable[[], None]) -> None:
        """Run `fn` between rounds (closing the connection on shutdown)."""
        with self._lock:
            fn()

    def figures(self) -> list[str]:
        return sorted({f for r in self.rules for f in r.figures})

    def check(self, now: datetime | None = None) -> list[Check]:
        """Test every rule now, without touching states or notifying."""
        with self._lock:
            return self._checks(now or self.clock(), record=False)

    def evaluate(self, now: datetime | None = None) -> list[Alert]:
        """One round; returns the notifications it sent."""
        with self._lock:
            now = now or self.clock()
            checks = self._checks(now, record=True)
            alerts = [a for c in checks if (a := self._step(c, now.timestamp())) is not None]
            self.store.save(self.instances)
            if alerts:
                self.notify(alerts)
            return alerts

    def _checks(self, now: datetime, record: bool) -> list[Check]:
        values = self.source.values(self.figures(), now)
        if self.on_values is not None:
            self.on_values(values)
        charted = {r.figure: values.get(r.figure, {}) for r in self.rules if r.kind in ("control", "pchart")}
        if record and charted:
            self.source.record(now, charted)  # before the baselines: like Prometheus, the window holds the current sample
        out = []
        for rule in self.rules:
            got = values.get(rule.figure, {})
            keys = dict(got)
            for inst in self.instances.values():
                if inst.rule == rule.name and inst.state in ("pending", "firing") and labels_key(inst.labels) not in keys:
                    keys[labels_key(inst.labels)] = (inst.labels, math.nan)  # its label set went away: no value
            if rule.kind == "absence" and not keys:
                keys[labels_key({})] = ({}, math.nan)
            for key, (labels, value) in keys.items():
                v = None if math.isnan(value) else value
                active, limit = self._test(rule, key, v, values, now, present=bool(got))
                out.append(Check(rule.name, labels, v, active, limit))
        return out

    def _test(self, rule: Rule, key: str, v: float | None, values: Values, now: datetime, present: bool) -> tuple[bool, float | None]:
        if rule.kind == "absence":  # as `x == 0 or absent(x)`: a missing series counts only when all are missing
            return (v == 0 if v is not None else not present), 0.0
        if v is None:
            return (False, None)
        if rule.kind == "threshold":
            return (OPS[rule.op](v, rule.value), rule.value)
        base = self.source.baseline(rule.figure, key, now - timedelta(seconds=rule.baseline_s), now)
        if base is None:
            return (False, None)
        mean, sigma = base
        if rule.kind == "control":
            limit = mean + rule.k * sigma
        else:  # pchart: the binomial sigma of a rate over n trials
            size = values.get(rule.size_figure, {}).get(key)
            if size is None or size[1] <= 0:
                return (False, None)
            limit = mean + rule.k * math.sqrt(max(mean * (1 - mean), 0.0) / size[1])
        return (v > limit, limit)

    def _step(self, check: Check, now: float) -> Alert | None:
        rule = next(r for r in self.rules if r.name == check.rule)
        key = (rule.name, labels_key(check.labels))
        inst = self.instances.get(key) or Instance(rule.name, dict(check.labels))
        inst = replace(inst, value=check.value, evaluated_at=now)
        alert = None
        if check.active:
            if inst.state in ("inactive", "resolved"):
                inst = replace(inst, state="pending", active_since=now, fired_at=None, resolved_at=None)
            if inst.state == "pending" and now - (inst.active_since or now) >= rule.for_s:
                inst = replace(inst, state="firing", fired_at=now)
                alert = self._alert(rule, inst, "firing", None)
        elif inst.state == "pending":
            inst = replace(inst, state="inactive", active_since=None)
        elif inst.state == "firing":
            inst = replace(inst, state="resolved", resolved_at=now)
            alert = self._alert(rule, inst, "resolved", now)
        self.instances[key] = inst  # inactive ones too: `alerts list` shows their last value
        return alert

    def _alert(self, rule: Rule, inst: Instance, status: str, ends_at: float | None) -> Alert:
        labels = {"alertname": rule.name, **inst.labels, **rule.labels}
        annotations = {k: expand(v, inst.value, labels) for k, v in rule.annotations.items()}
        return Alert(status, labels, annotations, inst.active_since or inst.fired_at or 0.0, ends_at)

    def table(self) -> list[dict[str, object]]:
        """Every rule with its instances' states (the API and `vitrina alerts list`)."""
        with self._lock:  # not while a round changes them
            instances = list(self.instances.values())
        out: list[dict[str, object]] = []
        for rule in self.rules:
            insts = [i for i in instances if i.rule == rule.name]
            out.append(
                {
                    "name": rule.name,
                    "kind": rule.kind,
                    "figure": rule.figure,
                    "for": rule.for_,
                    "labels": rule.labels,
                    "instances": [
                        {
                            "labels": i.labels,
                            "state": i.state,
                            "value": i.value,
                            "active_since": i.active_since,
                            "fired_at": i.fired_at,
                            "resolved_at": i.resolved_at,
                        }
                        for i in insts
                    ],
                }
            )
        return out
