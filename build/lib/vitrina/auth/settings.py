"""`[auth]`: off by default (a laptop, a trusted network); on, every request needs a key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuthSettings:
    enabled: bool = False
    keys_file: str = ""  # default: <data_dir>/keys.json (written by `vitrina keys`)
