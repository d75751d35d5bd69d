"""Alert rules: declared in TOML (the shipped set and `[[alerts.rules]]`), checked on load.

Kinds (each tests one figure per label set):
- threshold: figure OP value
- control:   figure > mean + k sigma of the figure over the baseline window
- pchart:    rate p > p̄ + k sqrt(p̄ (1 − p̄) / n), p̄ its mean over the baseline, n the size figure
- absence:   the figure is 0 or has no value
"""

from __future__ import annotations

import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import TYPE_CHECKING, Any

from vitrina.alerts.figures import Figure, load_figures
from vitrina.streams.durations import parse_duration

if TYPE_CHECKING:
    from vitrina.alerts.settings import AlertSettings

KINDS = ("threshold", "control", "pchart", "absence")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_KEYS = {"name", "kind", "figure", "op", "value", "k", "baseline", "size_figure", "for", "labels", "annotations"}


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    figure: str
    op: str = ">"
    value: float = 0.0
    k: float = 3.0
    baseline: str = "1h"
    size_figure: str = ""
    for_: str = "0s"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def for_s(self) -> float:
        return parse_duration(self.for_)

    @property
    def baseline_s(self) -> float:
        return parse_duration(self.baseline)

    @property
    def figures(self) -> tuple[str, ...]:
        return (self.figure, self.size_figure) if self.size_figure else (self.figure,)


def parse_rule(spec: Mapping[str, Any], figures: Mapping[str, Figure]) -> Rule:
    where = f"alert rule {spec.get('name', '?')!r}"
    unknown = set(spec) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    for key in ("name", "kind", "figure"):
        if key not in spec:
            raise ValueError(f"{where}: missing `{key}`")
    name, kind = str(spec["name"]), str(spec["kind"])
    if not _NAME.match(name):
        raise ValueError(f"{where}: name must match {_NAME.pattern}")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {KINDS}")
    rule = Rule(
        name=name,
        kind=kind,
        figure=str(spec["figure"]),
        op=str(spec.get("op", ">")),
        value=float(spec.get("value", 0.0)),
        k=float(spec.get("k", 3.0)),
        baseline=str(spec.get("baseline", "1h")),
        size_figure=str(spec.get("size_figure", "")),
        for_=str(spec.get("for", "0s")),
        labels={str(k): str(v) for k, v in spec.get("labels", {}).items()},
        annotations={str(k): str(v) for k, v in spec.get("annotations", {}).items()},
    )
    if rule.op not in OPS:
        raise ValueError(f"{where}: op must be one of {sorted(OPS)}")
    if kind == "threshold" and "value" not in spec:
        raise ValueError(f"{where}: a threshold rule needs `value`")
    if kind == "pchart" and not rule.size_figure:
        raise ValueError(f"{where}: a pchart rule needs `size_figure` (the number of trials per window)")
    for f in rule.figures:
        if f not in figures:
            raise ValueError(f"{where}: unknown figure {f!r}; figures: {', '.join(sorted(figures))}")
    rule.for_s, rule.baseline_s  # noqa: B018 - checks both durations
    return rule


def default_rule_specs() -> list[dict[str, Any]]:
    text = resources.files("vitrina.alerts").joinpath("default_rules.toml").read_text()
    return list(tomllib.loads(text)["rules"])


def load_rules(settings: AlertSettings) -> list[Rule]:
    """The shipped rules (unless turned off) with config rules added or replacing them by name."""
    figures = load_figures(settings.figures)
    rules: dict[str, Rule] = {}
    if settings.default_rules:
        for spec in default_rule_specs():
            rule = parse_rule(spec, figures)
            if rule.name == "QuotesMidPriceHigh" and settings.quotes_mid_threshold is not None:
                rule = replace(rule, value=settings.quotes_mid_threshold)
            rules[rule.name] = rule
    for spec in settings.rules:
        rule = parse_rule(spec, figures)
        rules[rule.name] = rule
    return list(rules.values())
