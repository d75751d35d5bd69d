"""The decisions about a key when `[auth] enabled`: which key a token is, may it do what a route
needs (auth/scopes.py), may it send this stream, and this many events now. The middleware
(auth/middleware.py) asks the first two of every request; the intake asks the last two, once
it knows the stream and has counted the events.

While the key file cannot be read no key is trusted: requests that need one get 503."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Gauge

from vitrina.auth.keys import ApiKey, KeyStore, KeysUnavailable
from vitrina.auth.limits import RateLimiter
from vitrina.auth.scopes import Scope
from vitrina.errors import HttpError

RETRY_AFTER_S = b"1"  # the key file is looked at again every second


def keys_unavailable(problem: KeysUnavailable) -> HttpError:
    message = f"no API key can be checked: {problem.public}; the operator must fix it (the server rereads it every second)"
    return HttpError(503, "keys_unavailable", message, [(b"retry-after", RETRY_AFTER_S)])


class Guard:
    def __init__(self, store: KeyStore, registry: CollectorRegistry | None = None) -> None:
        self.store = store
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

    def allow(self, key: ApiKey, scope: Scope) -> None:
        """May the key do what a route needs? (SEND: any key; the intake checks the stream.)"""
        if scope is Scope.OPERATE and not key.operate:
            what = "run models, reports or alert rounds, or flush"
            raise HttpError(403, "operate_not_allowed", f"the key {key.name!r} may not {what}: that needs a key made with --operate")
        if scope is Scope.READ and not key.read:
            raise HttpError(403, "read_not_allowed", f"the key {key.name!r} may not read: that needs a key made with --read")

    def allow_stream(self, key: ApiKey, stream: str) -> None:
        if not key.may_send(stream):
            allowed = ", ".join(key.streams) or "nothing"
            raise HttpError(403, "stream_not_allowed", f"the key {key.name!r} may not send {stream!r}; it may send {allowed}")

    def charge(self, key: ApiKey, events: int) -> None:
        wait = self.limiter.take(key.name, key.rate, events)
        if wait > 0:
            message = f"the key {key.name!r} may send {key.rate:g} events/s; retry in {wait:.2f} s"
            raise HttpError(429, "rate_limited", message, [(b"retry-after", str(math.ceil(wait)).encode())])
