"""The key file: each key's name, the SHA-256 of its token (the token itself is shown once,
when it is made), the streams it may send, whether it may read, and its event rate.

SHA-256, not a password hash: tokens are 256 random bits, so there is nothing to guess, and
the intake looks a key up on every request. The file is edited by `vitrina keys` (also while
a server runs: the server rereads it when it changes, at most once a second)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

TOKEN_PREFIX = "vk_"
ALL_STREAMS = "*"


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: str  # sha256 hex of the token
    streams: tuple[str, ...]  # what it may send; "*" for every stream
    read: bool  # SQL, rollups, dashboards, models, alerts, reports
    rate: float  # events per second it may send (0: no limit)
    created: str

    def may_send(self, stream: str) -> bool:
        return ALL_STREAMS in self.streams or stream in self.streams


class KeyProblem(ValueError):
    """A key cannot be added or removed as asked."""


def digest(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._by_digest: dict[str, ApiKey] = {}
        self._version: tuple[int, int] | None = None  # the file's (inode, mtime) when read
        self._checked = 0.0
        self._reload()

    def _reload(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._by_digest, self._version = {}, None
            return
        version = (st.st_ino, st.st_mtime_ns)  # every save is a new file (os.replace)
        if version == self._version:
            return
        raw = json.loads(self.path.read_text())
        keys = [ApiKey(**{**k, "streams": tuple(k["streams"])}) for k in raw.get("keys", [])]
        self._by_digest, self._version = {k.digest: k for k in keys}, version

    def find(self, token: bytes) -> ApiKey | None:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            self._reload()
        return self._by_digest.get(digest(token))

    def all(self) -> list[ApiKey]:
        self._reload()
        return sorted(self._by_digest.values(), key=lambda k: k.name)

    def add(self, name: str, streams: tuple[str, ...], read: bool, rate: float) -> str:
        """Make a key; returns its token (only its digest is kept)."""
        if not name or any(k.name == name for k in self.all()):
            raise KeyProblem(f"a key named {name!r} exists already" if name else "a key needs a name")
        if not streams and not read:
            raise KeyProblem("a key that may neither send (--stream) nor read (--read) is of no use")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        self._save([*self.all(), ApiKey(name, digest(token.encode()), tuple(streams), read, float(rate), created)])
        return token

    def revoke(self, name: str) -> None:
        keys = self.all()
        if not any(k.name == name for k in keys):
            raise KeyProblem(f"no key named {name!r}")
        self._save([k for k in keys if k.name != name])

    def _save(self, keys: list[ApiKey]) -> None:
        """Atomically (a running server may read it meanwhile), readable by the owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"keys": [asdict(k) for k in keys]}, f, indent=2)
        os.replace(tmp, self.path)
        self._reload()
