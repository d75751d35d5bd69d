"""Notifications: the log, and webhooks in the Alertmanager webhook format (version 4), so
receivers written for Alertmanager take vitrina's alerts as they are."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "not ended"
_TEMPLATE = re.compile(r"\{\{\s*\$(value|labels\.([a-zA-Z_][a-zA-Z0-9_]*))\s*\}\}")
MAX_TRIES = 5


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def expand(text: str, value: float | None, labels: dict[str, str]) -> str:
    """The `{{ $value }}` and `{{ $labels.NAME }}` templates Prometheus annotations use."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) == "value":
            return "" if value is None else f"{value:g}"
        return labels.get(m.group(2) or "", "")

    return _TEMPLATE.sub(sub, text)


@dataclass(frozen=True)
class Alert:
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float
    ends_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": rfc3339(self.starts_at),
            "endsAt": rfc3339(self.ends_at) if self.ends_at is not None else ZERO_TIME,
            "generatorURL": "",
            "fingerprint": hashlib.sha256(str(sorted(self.labels.items())).encode()).hexdigest()[:16],
        }


def _common(dicts: Sequence[dict[str, str]]) -> dict[str, str]:
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}


def webhook_payload(alerts: Sequence[Alert], receiver: str = "vitrina") -> dict[str, Any]:
    """One message for alerts of one rule and status (Alertmanager groups by alertname)."""
    name = alerts[0].labels.get("alertname", "")
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a.status == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": {"alertname": name},
        "commonLabels": _common([a.labels for a in alerts]),
        "commonAnnotations": _common([a.annotations for a in alerts]),
        "externalURL": "",
        "alerts": [a.as_dict() for a in alerts],
    }


class Notifier:
    """Posts each message to every webhook; a failed post is retried on the next round."""

    def __init__(self, webhooks: Sequence[str], timeout_s: float = 5.0) -> None:
        self.webhooks = list(webhooks)
        self.timeout_s = timeout_s
        self._retry: list[tuple[str, dict[str, Any], int]] = []

    def send(self, alerts: Sequence[Alert]) -> None:
        for a in alerts:
            log.warning("alert %s %s %s: %s", a.labels.get("alertname"), a.status, a.labels, a.annotations.get("summary", ""))
        groups: dict[tuple[str, str], list[Alert]] = {}
        for a in alerts:
            groups.setdefault((a.labels.get("alertname", ""), a.status), []).append(a)
        todo = self._retry + [(url, webhook_payload(g), 0) for g in groups.values() for url in self.webhooks]
        self._retry = []
        if not todo:
            return
        with httpx.Client(timeout=self.timeout_s) as client:
            for url, payload, tries in todo:
                try:
                    client.post(url, json=payload).raise_for_status()
                except httpx.HTTPError as exc:
                    if tries + 1 < MAX_TRIES:
                        self._retry.append((url, payload, tries + 1))
                    log.error("webhook %s failed (try %d): %s", url, tries + 1, exc)
