"""Checking requests against the keys when `[auth] enabled`: which key a request carries, may
it send this stream (and this many events now), may it read. Health, metrics and the API docs
stay open; a dashboard page opened with `?key=TOKEN` keeps the key in an HttpOnly cookie, so the
page's own requests carry it."""

from __future__ import annotations

import math
from urllib.parse import parse_qs

from vitrina.auth.keys import ApiKey, KeyStore
from vitrina.auth.limits import RateLimiter
from vitrina.intake.errors import HttpError

COOKIE = b"vitrina_key"
OPEN_PATHS = {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"}
OPEN_PREFIXES = ("/static/swagger/", "/dashboards/static/")


def token_of(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """`Authorization: Bearer T`, `X-API-Key: T`, or the dashboard's cookie."""
    cookie = None
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
        if name == b"x-api-key":
            return value.strip()
        if name == b"cookie":
            for part in value.split(b";"):
                k, _, v = part.strip().partition(b"=")
                if k == COOKIE:
                    cookie = v
    return cookie


class Guard:
    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self.limiter = RateLimiter()

    def key(self, token: bytes | None) -> ApiKey:
        if not token:
            raise HttpError(401, "missing_key", "this vitrina needs an API key: send Authorization: Bearer KEY or X-API-Key: KEY")
        key = self.store.find(token)
        if key is None:
            raise HttpError(401, "unknown_key", "the API key is not known (revoked, or mistyped)")
        return key

    def allow_stream(self, key: ApiKey, stream: str) -> None:
        if not key.may_send(stream):
            allowed = ", ".join(key.streams) or "nothing"
            raise HttpError(403, "stream_not_allowed", f"the key {key.name!r} may not send {stream!r}; it may send {allowed}")

    def charge(self, key: ApiKey, events: int) -> None:
        wait = self.limiter.take(key.name, key.rate, events)
        if wait > 0:
            message = f"the key {key.name!r} may send {key.rate:g} events/s; retry in {wait:.2f} s"
            raise HttpError(429, "rate_limited", message, [(b"retry-after", str(math.ceil(wait)).encode())])

    def reader(self, path: str, token: bytes | None) -> None:
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return
        key = self.key(token)
        if not key.read:
            raise HttpError(403, "read_not_allowed", f"the key {key.name!r} may send events but not read")


def cookie_header(token: bytes) -> bytes:
    """The dashboard's cookie: sent back by the browser on the page's own requests only."""
    return COOKIE + b"=" + token + b"; Path=/; HttpOnly; SameSite=Strict"


def page_key(path: str, query_string: bytes) -> bytes | None:
    """The `key` query parameter of a dashboard page ("/" or "/d/NAME"), if any."""
    if not (path == "/" or path.startswith("/d/")):
        return None
    values = parse_qs(query_string.decode("latin-1")).get("key")
    return values[0].encode() if values else None
