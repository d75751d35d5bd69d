"""`[auth] enabled` as ASGI middleware in front of the whole app, intake included: every HTTP
request's key is found and checked against the scope its route needs (auth/scopes.py) before
anything else runs, so a caller without a key learns nothing (not which streams or routes
exist). The key found travels in the ASGI scope (`request_key`): the intake asks auth whether
it may send the stream and charges its event rate.

A dashboard page opened with `?key=TOKEN` keeps the key in an HttpOnly, SameSite=Strict cookie
and is reloaded without it, so the page's own requests carry the key and the URL shows none.

With auth off the middleware is not installed at all: it costs nothing then."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from vitrina.auth.guard import Guard
from vitrina.auth.keys import ApiKey
from vitrina.auth.scopes import RouteScopes, Scope
from vitrina.errors import HttpError

COOKIE = b"vitrina_key"
KEY_FIELD = "vitrina.api_key"  # the ASGI scope's entry holding the request's ApiKey
_JSON = (b"content-type", b"application/json")


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


def cookie_header(token: bytes) -> bytes:
    """The dashboard's cookie: sent back by the browser on the page's own requests only."""
    return COOKIE + b"=" + token + b"; Path=/; HttpOnly; SameSite=Strict"


def page_key(path: str, query_string: bytes) -> bytes | None:
    """The `key` query parameter of a dashboard page ("/" or "/d/NAME"), if any."""
    if not (path == "/" or path.startswith("/d/")):
        return None
    values = parse_qs(query_string.decode("latin-1")).get("key")
    return values[0].encode() if values else None


def request_key(scope: AsgiScope) -> ApiKey | None:
    """The key the middleware admitted this request with (None: auth is off)."""
    key: ApiKey | None = scope.get(KEY_FIELD)
    return key


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [_JSON, *headers]})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Admits a request whose key may do what its route needs; answers 401, 403 or 503 (the
    key file unreadable) otherwise. `refused(status)` hears of refused intake requests, which
    the intake's request counter counts like its own answers."""

    def __init__(self, app: ASGIApp, guard: Guard, scopes: RouteScopes, refused: Callable[[int], Any] | None = None) -> None:
        self.app = app
        self.guard = guard
        self.scopes = scopes
        self.refused = refused

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (answered before this), and no websocket routes exist
            await self.app(scope, receive, send)
            return
        need = self.scopes.of(scope["method"], scope["path"])
        if need is Scope.OPEN:
            await self.app(scope, receive, send)
            return
        # Inline rather than split into helpers: this runs before every intake request.
        given = None
        try:
            if need is Scope.SEND:  # which stream, and how many events: the intake asks
                scope[KEY_FIELD] = self.guard.key(token_of(scope["headers"]))
            else:
                given = page_key(scope["path"], scope.get("query_string", b""))
                key = scope[KEY_FIELD] = self.guard.key(given or token_of(scope["headers"]))
                self.guard.allow(key, need)
        except HttpError as exc:
            if need is Scope.SEND and self.refused is not None:
                self.refused(exc.status)
            await _answer(send, exc.status, exc.body(), exc.headers)
            return
        if given is not None:  # a page opened with ?key=: keep it in the cookie, reload without it
            headers = [(b"location", scope["path"].encode()), (b"set-cookie", cookie_header(given))]
            await _answer(send, 303, b"{}", headers)
            return
        await self.app(scope, receive, send)
