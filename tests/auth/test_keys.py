"""The key file and the rate limiter on their own."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from vitrina.auth import limits
from vitrina.auth.keys import KeyProblem, KeyStore, digest


def test_keys_are_kept_hashed_and_reread(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    store = KeyStore(path)
    token = store.add("shop", ("uploads", "metrics"), read=False, rate=100)
    assert token.startswith("vk_") and len(token) > 40
    text = path.read_text()
    assert token not in text and digest(token.encode()) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = store.find(token.encode())
    assert key is not None and key.may_send("uploads") and not key.may_send("quotes") and not key.read
    assert store.find(b"vk_wrong") is None
    with pytest.raises(KeyProblem, match="exists already"):
        store.add("shop", ("*",), read=True, rate=0)
    with pytest.raises(KeyProblem, match="of no use"):
        store.add("idle", (), read=False, rate=0)
    # another process (the CLI) revokes it: this store sees it at its next look (at most 1 s)
    KeyStore(path).revoke("shop")
    store._checked = 0.0
    assert store.find(token.encode()) is None
    assert json.loads(path.read_text()) == {"keys": []}
    with pytest.raises(KeyProblem, match="no key named"):
        store.revoke("shop")


def test_rate_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: clock[0])
    limiter = limits.RateLimiter()
    assert limiter.take("k", 10, 6) == 0  # a full bucket holds one second: 10
    assert limiter.take("k", 10, 4) == 0
    assert limiter.take("k", 10, 1) == pytest.approx(0.1)  # empty: one event in 0.1 s
    clock[0] += 0.5
    assert limiter.take("k", 10, 5) == 0  # refilled by 5
    clock[0] += 1.0
    assert limiter.take("k", 10, 50) == 0  # over one second's rate: passes on a full bucket ...
    assert limiter.take("k", 10, 1) == pytest.approx(4.1)  # ... and is paid for by waiting
    assert limiter.take("other", 0, 10**9) == 0  # no limit
