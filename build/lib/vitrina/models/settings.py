"""The `[models]` section of the config file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSettings:
    enabled: bool = True  # run models on their cadence inside `vitrina up`
    lookback_s: float = 86_400.0  # late events this old are still counted (whole days are recomputed)
    tick_s: float = 5.0  # how often the scheduler looks for models that are due
    our_media_hosts: tuple[str, ...] = ("cdn.host",)  # media hosts counted as "ours"

    def __post_init__(self) -> None:
        if self.lookback_s < 0 or self.tick_s <= 0:
            raise ValueError("[models]: lookback_s must be >= 0 and tick_s > 0")
        object.__setattr__(self, "our_media_hosts", tuple(self.our_media_hosts))
