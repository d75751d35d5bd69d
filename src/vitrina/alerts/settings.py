"""The `[alerts]` section of the config file; rules are `[[alerts.rules]]` tables and extra
figures `[alerts.figures.NAME]` (docs/ALERTS.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AlertSettings:
    enabled: bool = True  # evaluate rules on a timer inside `vitrina up`
    interval_s: float = 15.0
    webhooks: tuple[str, ...] = ()  # receivers of Alertmanager-format notifications
    default_rules: bool = True  # the shipped rules (upload monitor, quotes)
    # Level-1 mid price of the shipped quotes rule; unset: the rule's own value (default_rules.toml),
    # which the dashboards and the Grafana export read from the rule as well.
    quotes_mid_threshold: float | None = None
    rules: tuple[dict[str, Any], ...] = ()
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "webhooks", tuple(self.webhooks))
        object.__setattr__(self, "rules", tuple(self.rules))
        if self.interval_s <= 0:
            raise ValueError("[alerts] interval_s must be > 0")
        from vitrina.alerts.rules import load_rules  # late: rules need no settings module at import

        load_rules(self)  # raises ValueError naming the bad rule
