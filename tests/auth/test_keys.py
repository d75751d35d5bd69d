"""The key file, the server's key store and the rate limiter on their own."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.auth.helpers import WITHOUT_DAC
from tests.conftest import ROOT
from vitrina.auth import keys as keys_module
from vitrina.auth import limits
from vitrina.auth.keys import KeyFile, KeyFileMissing, KeyProblem, KeyStore, KeysUnavailable, digest


def test_keys_are_kept_hashed_and_reread(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    token = KeyFile(path).add("shop", ("uploads", "metrics"), read=False, rate=100)
    assert token.startswith("vk_") and len(token) > 40
    text = path.read_text()
    assert token not in text and digest(token.encode()) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store = KeyStore(path)
    key = store.find(token.encode())
    assert key is not None and key.may_send("uploads") and not key.may_send("quotes") and not key.read and not key.operate
    assert store.find(b"vk_wrong") is None
    with pytest.raises(KeyProblem, match="exists already"):
        KeyFile(path).add("shop", ("*",), read=True, rate=0)
    with pytest.raises(KeyProblem, match="of no use"):
        KeyFile(path).add("idle", (), read=False, rate=0)
    ops = KeyFile(path).add("cron", (), read=False, rate=0, operate=True)
    # another process (the CLI) revokes it: the store sees it at its next look (at most 1 s)
    KeyFile(path).revoke("shop")
    store._checked = 0.0
    assert store.find(token.encode()) is None
    cron = store.find(ops.encode())
    assert cron is not None and cron.operate and not cron.read and cron.streams == ()
    assert [k["name"] for k in json.loads(path.read_text())["keys"]] == ["cron"]
    with pytest.raises(KeyProblem, match="no key named"):
        KeyFile(path).revoke("shop")


def test_a_key_file_from_before_scopes_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    old = {"name": "old", "digest": digest(b"vk_old"), "streams": ["*"], "read": True, "rate": 0.0, "created": "2026-01-01T00:00:00+00:00"}
    path.write_text(json.dumps({"keys": [old]}))
    key = KeyStore(path).find(b"vk_old")
    assert key is not None and key.read and not key.operate


def _damage(path: Path, how: str) -> None:
    path.unlink()
    if how == "corrupt":
        path.write_text('{"keys": [{"name": "shop", "dig')  # a half-written edit by hand
    elif how == "not_keys":
        path.write_text('["shop"]')
    elif how == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage")
    elif how == "directory":
        path.mkdir()
    # "deleted": nothing there


@pytest.mark.parametrize("how", ["corrupt", "not_keys", "binary", "directory", "deleted"])
def test_an_unreadable_file_trusts_no_key_and_says_so_once(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys_module, "RECHECK_S", 0.0)  # every call looks at the file
    path = tmp_path / "keys.json"
    token = KeyFile(path).add("shop", ("*",), read=True, rate=0).encode()
    store = KeyStore(path)
    assert store.find(token) is not None and store.problem() is None and store.count() == 1
    before = path.read_bytes()
    _damage(path, how)
    with caplog.at_level(logging.INFO, logger="vitrina.auth.keys"):
        for _ in range(50):  # the keys read before are not kept: the damaged file might be a revocation
            with pytest.raises(KeysUnavailable) as raised:
                store.find(token)
        assert isinstance(raised.value, KeyFileMissing) == (how == "deleted")
        problem = store.problem()
        assert problem is not None and problem.public.startswith("the key file keys.json ") and str(tmp_path) not in problem.public
        assert store.count() == 0
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and str(path) in errors[0].getMessage(), [r.getMessage() for r in caplog.records]
        # the CLI refuses to edit it rather than overwrite the keys it cannot read
        if how != "deleted":
            with pytest.raises(KeysUnavailable):
                KeyFile(path).add("other", ("*",), read=False, rate=0)
        # repaired: trusted again at the next look
        if path.is_dir():
            path.rmdir()
        elif path.exists():
            path.unlink()
        path.write_bytes(before)
        assert store.find(token) is not None and store.problem() is None
        assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
        assert "readable again" in caplog.records[1].getMessage()


PROBLEM_SCRIPT = (
    "import sys; from pathlib import Path; from vitrina.auth.keys import KeyStore; print(KeyStore(Path(sys.argv[1])).problem())"
)


def test_permission_denied_is_unreadable(tmp_path: Path) -> None:
    """Permission denied, for real. Root reads any file; a process without CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH obeys the mode bits as any user does."""
    path = tmp_path / "keys.json"
    KeyFile(path).add("shop", ("*",), read=True, rate=0)
    path.chmod(0)
    cmd = [sys.executable, "-c", PROBLEM_SCRIPT, str(path)]
    if os.geteuid() == 0:
        cmd = [*WITHOUT_DAC, *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "cannot be read (Permission denied)" in done.stdout and "no key is trusted" in done.stderr


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
