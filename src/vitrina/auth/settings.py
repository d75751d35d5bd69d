"""`[auth]`: off by default (a laptop, a trusted network); on, every request needs a key."""

from __future__ import annotations

from dataclasses import dataclass

METRICS_ACCESS = ("open", "read")


@dataclass(frozen=True)
class AuthSettings:
    enabled: bool = False
    keys_file: str = ""  # default: <data_dir>/keys.json (written by `vitrina keys`)
    # GET /metrics: "open" (any scraper), or "read": a read key (Prometheus: `authorization:
    # credentials` in its scrape config sends it as a bearer token)
    metrics: str = "open"

    def __post_init__(self) -> None:
        if self.metrics not in METRICS_ACCESS:
            raise ValueError(f"[auth] metrics must be {' or '.join(METRICS_ACCESS)}, not {self.metrics!r}")
