"""Alert instances (a rule and one label set of its figure) and their state, kept in a JSON file
in the data folder so pending timers and firing alerts survive a restart."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATES = ("inactive", "pending", "firing", "resolved")


def labels_key(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


@dataclass
class Instance:
    rule: str
    labels: dict[str, str] = field(default_factory=dict)  # the figure's labels
    state: str = "inactive"
    active_since: float | None = None  # when the condition became true (pending)
    fired_at: float | None = None
    resolved_at: float | None = None
    value: float | None = None
    evaluated_at: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, labels_key(self.labels))


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[tuple[str, str], Instance]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        out = {}
        for item in data.get("instances", []):
            inst = Instance(**item)
            out[inst.key] = inst
        return out

    def save(self, instances: dict[tuple[str, str], Instance]) -> None:
        # Written beside and renamed over: a crash leaves the old file or the new one.
        payload: dict[str, Any] = {"version": 1, "instances": [asdict(i) for i in instances.values()]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=1))
        os.replace(tmp, self.path)
