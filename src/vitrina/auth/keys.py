"""The key file: each key's name, the SHA-256 of its token (the token itself is shown once,
when it is made), the streams it may send, whether it may read, whether it may operate (run
models and reports, flush), and its event rate.

SHA-256, not a password hash: tokens are 256 random bits, so there is nothing to guess, and
the intake looks a key up on every request. The file is edited by `vitrina keys` (also while
a server runs: the server rereads it when it changes, at most once a second).

A file that cannot be read (missing, not JSON, not a key list, not a file) means that no key
is trusted: the server answers 503 until it can read the file again, rather than go on with
the keys it read last, which may include keys revoked since (docs/ARCHITECTURE.md, "Guarantees")."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

TOKEN_PREFIX = "vk_"
ALL_STREAMS = "*"
RECHECK_S = 1.0  # how often the server looks at the file for changes (or for a repair)


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: str  # sha256 hex of the token
    streams: tuple[str, ...]  # what it may send; "*" for every stream
    read: bool  # SQL, rollups, streams, dashboards, model and alert states
    rate: float  # events per second it may send (0: no limit)
    created: str
    operate: bool = False  # run models, reports and alert rounds, flush (files written before it existed lack it)

    def may_send(self, stream: str) -> bool:
        return ALL_STREAMS in self.streams or stream in self.streams


class KeyProblem(ValueError):
    """A key cannot be added or removed as asked."""


class KeysUnavailable(Exception):
    """The key file cannot be read: no key can be checked."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path
        self.why = why

    @property
    def public(self) -> str:
        """The reason without the folder: what a caller (and /readyz) may be told."""
        return f"the key file {self.path.name} {self.why}"


class KeyFileMissing(KeysUnavailable):
    """No key file yet: `vitrina keys add` makes one; a server trusts no key meanwhile."""


def digest(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


_FIELDS = {f.name for f in fields(ApiKey)}


def _parse(path: Path, text: str) -> list[ApiKey]:
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise KeysUnavailable(path, f"is not valid JSON ({exc})") from None
    entries = raw.get("keys") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise KeysUnavailable(path, 'is not a key file: expected {"keys": [...]}')
    keys = []
    for i, k in enumerate(entries):
        if not isinstance(k, dict) or not {"name", "digest", "streams"} <= k.keys() or not k.keys() <= _FIELDS:
            raise KeysUnavailable(path, f"has a malformed key at position {i}")
        try:
            keys.append(ApiKey(**{**k, "streams": tuple(k["streams"])}))
        except TypeError as exc:
            raise KeysUnavailable(path, f"has a malformed key at position {i} ({exc})") from None
    return keys


def _version(path: Path) -> tuple[int, int, int]:
    """(inode, mtime, ctime): every save is a new file (os.replace); an edit in place changes
    the mtime, a chmod or chown the ctime. Any of them: read the file again."""
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns


def read_keys(path: Path) -> tuple[tuple[int, int, int], list[ApiKey]]:
    """The file's version and its keys; KeysUnavailable (KeyFileMissing) if it cannot be read."""
    try:
        version = _version(path)
        text = path.read_text()
    except FileNotFoundError:
        raise KeyFileMissing(path, "does not exist (make keys with `vitrina keys add`)") from None
    except IsADirectoryError:
        raise KeysUnavailable(path, "is a directory, not a file") from None
    except OSError as exc:
        raise KeysUnavailable(path, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    except UnicodeDecodeError:
        raise KeysUnavailable(path, "is not UTF-8 text") from None
    return version, _parse(path, text)


class KeyFile:
    """The file as `vitrina keys` edits it: a missing file has no keys yet; an unreadable one
    is never overwritten (that would throw its keys away): the edit is refused."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[ApiKey]:
        try:
            _, keys = read_keys(self.path)
        except KeyFileMissing:
            return []
        return sorted(keys, key=lambda k: k.name)

    def add(self, name: str, streams: tuple[str, ...], read: bool, rate: float, operate: bool = False) -> str:
        """Make a key; returns its token (only its digest is kept)."""
        keys = self.all()
        if not name or any(k.name == name for k in keys):
            raise KeyProblem(f"a key named {name!r} exists already" if name else "a key needs a name")
        if not streams and not read and not operate:
            raise KeyProblem("a key that may neither send (--stream), read (--read) nor operate (--operate) is of no use")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        self._save([*keys, ApiKey(name, digest(token.encode()), tuple(streams), read, float(rate), created, operate)])
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


class KeyStore:
    """The keys a server checks requests against. find() runs on every request; the file is
    looked at again at most once a second: changed, it is reread; unreadable, no key is
    trusted (and that is logged once per change, not per request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._by_digest: dict[str, ApiKey] = {}
        self._version: tuple[int, int, int] | None = None
        self._problem: KeysUnavailable | None = None
        self._checked = 0.0
        self._lock = threading.Lock()  # requests on the loop; /readyz and /metrics in threads
        self._reload()

    def _reload(self) -> None:
        with self._lock:
            self._checked = time.monotonic()
            try:
                unchanged = self._problem is None and _version(self.path) == self._version
            except OSError:
                unchanged = False  # read_keys() below says why
            if unchanged:
                return
            try:
                version, keys = read_keys(self.path)
            except KeysUnavailable as exc:
                self._fail(exc)
                return
            self._by_digest, self._version = {k.digest: k for k in keys}, version
            if self._problem is not None:
                log.warning("API keys: %s is readable again (%d keys); requests are checked again", self.path, len(keys))
            self._problem = None

    def _fail(self, problem: KeysUnavailable) -> None:
        if self._problem is None or str(self._problem) != str(problem):
            log.error("API keys: %s; no key is trusted until it is fixed (requests get 503)", problem)
        self._by_digest, self._version, self._problem = {}, None, problem

    def _fresh(self) -> None:
        if time.monotonic() - self._checked >= RECHECK_S:
            self._reload()

    def problem(self) -> KeysUnavailable | None:
        """Why no key can be checked now, if so."""
        self._fresh()
        return self._problem

    def count(self) -> int:
        """Keys trusted now (0 while the file cannot be read)."""
        self._fresh()
        return len(self._by_digest)

    def find(self, token: bytes) -> ApiKey | None:
        """The key of `token`, None if unknown; KeysUnavailable if the file cannot be read."""
        self._fresh()
        problem = self._problem
        if problem is not None:
            raise type(problem)(problem.path, problem.why)  # a new one: the stored one gathers no tracebacks
        return self._by_digest.get(digest(token))
