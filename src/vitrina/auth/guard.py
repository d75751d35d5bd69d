"""Checking requests against the keys when `[auth] enabled`: which key a request carries, may
it send this stream (and this many events now), may it read, may it operate. What each route
needs is declared with the route (auth/scopes.py); health, readiness and the API docs are open,
`/metrics` as `[auth] metrics` says. A dashboard page opened with `?key=TOKEN` keeps the key in
an HttpOnly cookie, so the page's own requests carry it.

While the key file cannot be read no key is trusted: requests that need one get 503."""

from __future__ import annotations

import math
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry, Gauge

from vitrina.auth.keys import ApiKey, KeyStore, KeysUnavailable
from vitrina.auth.limits import RateLimiter
from vitrina.auth.scopes import RouteScopes, Scope
from vitrina.intake.errors import HttpError

COOKIE = b"vitrina_key"
RETRY_AFTER_S = b"1"  # the key file is looked at again every second


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


def keys_unavailable(problem: KeysUnavailable) -> HttpError:
    message = f"no API key can be checked: {problem.public}; the operator must fix it (the server rereads it every second)"
    return HttpError(503, "keys_unavailable", message, [(b"retry-after", RETRY_AFTER_S)])


class Guard:
    def __init__(self, store: KeyStore, routes: RouteScopes, registry: CollectorRegistry | None = None) -> None:
        self.store = store
        self.routes = routes
        self.limiter = RateLimiter()
        if registry is not None:
            readable = Gauge("vitrina_auth_key_file_readable", "1 while the key file can be read; 0: no key is trusted", registry=registry)
            readable.set_function(lambda: 0.0 if store.problem() else 1.0)
            count = Gauge("vitrina_auth_keys", "API keys trusted now", registry=registry)
            count.set_function(store.count)

    def key(self, token: bytes | None) -> ApiKey:
        if not token:
            raise HttpError(401, "missing_key", "this vitrina needs an API key: send Authorization: Bearer KEY or X-API-Key: KEY")
        try:
            key = self.store.find(token)
        except KeysUnavailable as exc:
            raise keys_unavailable(exc) from None
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

    def allow(self, method: str, path: str, token: bytes | None) -> None:
        """A request to the API (not intake): may its key do what the route needs?"""
        scope = self.routes.of(method, path)
        if scope is Scope.OPEN:
            return
        key = self.key(token)
        if scope is Scope.OPERATE and not key.operate:
            what = "run models, reports or alert rounds, or flush"
            raise HttpError(403, "operate_not_allowed", f"the key {key.name!r} may not {what}: that needs a key made with --operate")
        if scope is Scope.READ and not key.read:
            raise HttpError(403, "read_not_allowed", f"the key {key.name!r} may not read: that needs a key made with --read")


def cookie_header(token: bytes) -> bytes:
    """The dashboard's cookie: sent back by the browser on the page's own requests only."""
    return COOKIE + b"=" + token + b"; Path=/; HttpOnly; SameSite=Strict"


def page_key(path: str, query_string: bytes) -> bytes | None:
    """The `key` query parameter of a dashboard page ("/" or "/d/NAME"), if any."""
    if not (path == "/" or path.startswith("/d/")):
        return None
    values = parse_qs(query_string.decode("latin-1")).get("key")
    return values[0].encode() if values else None
