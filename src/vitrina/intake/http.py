"""HTTP intake as a bare ASGI handler.

This is the hot path (tens of thousands of requests per second on one core), so it skips a
framework's routing, dependency injection and response classes, which cost about half the
throughput when measured (docs/PERFORMANCE.md). The API framework serves everything else and
documents these routes in the OpenAPI schema (serve/openapi.py).

Routes: POST /v1/streams/{stream}; the seed paths POST /upload/metrics/ (metrics) and
POST /events/ (site_events) with their original answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from vitrina.auth.guard import Guard
from vitrina.auth.keys import ApiKey
from vitrina.auth.middleware import request_key
from vitrina.auth.scopes import Declared
from vitrina.auth.scopes import Scope as KeyScope
from vitrina.core import Overloaded, StorageError
from vitrina.errors import HttpError
from vitrina.intake.gzipbody import GzipError, TooLarge, inflate
from vitrina.intake.target import Pipeline
from vitrina.intake.validate import BadBody, Checked

log = logging.getLogger(__name__)

_encode = msgspec.json.encode
_JSON = [(b"content-type", b"application/json")]
_SEED_OK = b'{"message":"ok"}'
INTERNAL = HttpError(500, "internal", "internal error; the server log has the details")
_NOT_ALLOWED = HttpError(405, "method_not_allowed", "intake paths take POST only").body()
PREFIX = "/v1/streams/"
JSON_TYPES = {"application/json", "text/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}


@dataclass(frozen=True)
class Route:
    stream: str
    seed: str | None = None  # "metrics" | "events": answer as the seed service did


SEED_ROUTES = {"/upload/metrics/": Route("metrics", "metrics"), "/events/": Route("site_events", "events")}


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON + (headers or [])})
    await send({"type": "http.response.body", "body": body})


class IntakeApp:
    """Handles intake routes itself and passes every other request to `fallback`. With
    `[auth] enabled` (a `guard`), auth/middleware.py in front has found the request's key; the
    intake asks the guard whether that key may send the stream, and charges its rate."""

    def __init__(self, pipeline: Pipeline, fallback: ASGIApp, guard: Guard | None = None) -> None:
        self.pipeline = pipeline
        self.fallback = fallback
        self.guard = guard
        self.max_body = pipeline.settings.limits.max_body_bytes
        self.retry_after = str(pipeline.settings.limits.retry_after_s).encode()
        self._routes: dict[str, Route] = dict(SEED_ROUTES)
        # Per-request bookkeeping is a measurable share of a single-event request: the
        # counters' children are looked up once per status, not on every request.
        self._status_counters: dict[int, Any] = {}

    @property
    def routes(self) -> list[Declared]:
        """The intake's paths, for the key checks in front (auth/scopes.py): each needs a key
        that may send; which stream it may send is checked here."""
        post = frozenset({"POST"})
        exact = [*SEED_ROUTES, *(PREFIX + name for name in self.pipeline.validators)]
        declared = [Declared(re.compile(f"^{re.escape(path)}$"), post, KeyScope.SEND, path) for path in exact]
        return [*declared, Declared(re.compile(f"^{re.escape(PREFIX)}"), post, KeyScope.SEND)]  # unknown streams: 404 for a key

    def _route(self, path: str) -> Route | None:
        route = self._routes.get(path)
        if route is None and path.startswith(PREFIX):
            route = Route(path[len(PREFIX) :].rstrip("/"))
            if route.stream in self.pipeline.validators:  # only known streams: the cache stays small
                self._routes[path] = route
        return route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope["path"]) if scope["type"] == "http" else None
        if route is not None and scope["method"] != "POST":
            if route.stream in self.pipeline.validators:  # an intake path: it only takes POST
                await _respond(send, 405, _NOT_ALLOWED, [(b"allow", b"POST")])
                return
            route = None
        if route is None:
            await self.fallback(scope, receive, send)
            return
        started = time.perf_counter()
        metrics = self.pipeline.metrics
        try:
            status, body = await self._handle(route, scope, receive)
            headers: list[tuple[bytes, bytes]] = []
        except HttpError as exc:
            status, body, headers = exc.status, exc.body(), exc.headers
        except Exception:
            # A bug, not the caller's fault: a JSON 500 like every other answer, and the
            # traceback in the log (uvicorn would answer text/plain and log it as its own).
            log.exception("POST %s failed", scope["path"])
            status, body, headers = 500, INTERNAL.body(), []
        await _respond(send, status, body, headers)
        counter = self._status_counters.get(status)
        if counter is None:
            counter = self._status_counters[status] = metrics.requests.labels(str(status))
        counter.inc()
        metrics.request_seconds.observe(time.perf_counter() - started)

    async def _handle(self, route: Route, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        pipeline, guard = self.pipeline, self.guard
        key = self._key(scope) if guard is not None else None
        validator = pipeline.validators.get(route.stream)
        if validator is None:
            known = ", ".join(sorted(pipeline.validators))
            raise HttpError(404, "unknown_stream", f"no stream named {route.stream!r}; streams: {known}")
        content_type = encoding = length = None
        for name, value in scope["headers"]:  # one pass over the headers
            if name == b"content-type":
                content_type = value
            elif name == b"content-encoding":
                encoding = value
            elif name == b"content-length":
                length = value
        if guard is not None and key is not None:
            guard.allow_stream(key, route.stream)
        ndjson = self._media_type(content_type)
        body = await self._read_body(receive, encoding, length)
        arrival_ns = time.time_ns()
        try:
            checked = validator.check_ndjson(body, arrival_ns) if ndjson else validator.check_json(body, arrival_ns)
        except BadBody as exc:
            raise HttpError(400, "malformed_body", str(exc)) from None
        if guard is not None and key is not None:
            guard.charge(key, checked.total)
        try:
            await pipeline.store(route.stream, checked, key=key.name.encode() if key is not None else None)
            pipeline.count_stored(route.stream, checked)
        except Overloaded as exc:
            raise HttpError(503, "overloaded", f"intake is behind ({exc}); retry later", [(b"retry-after", self.retry_after)]) from None
        except StorageError as exc:
            raise HttpError(
                503, "storage_unavailable", f"the warehouse did not take the rows: {exc}", [(b"retry-after", self.retry_after)]
            ) from None
        return self._answer(route, checked)

    def _key(self, scope: Scope) -> ApiKey:
        """The key the middleware admitted; none means it was not in front, and a request is
        never taken unchecked: 401."""
        assert self.guard is not None
        return request_key(scope) or self.guard.key(None)

    def _answer(self, route: Route, checked: Checked) -> tuple[int, bytes]:
        if not checked.problems:
            if route.seed:
                return 200, _SEED_OK
            return 200, b'{"accepted":%d,"rejected":[]}' % checked.count
        detail = [p.as_dict() for p in checked.problems]
        if checked.count == 0:
            # Nothing stored: the seed metrics service answered 400 for missing or mistyped
            # fields; everything else (and the seed events service) answers 422.
            status = 400 if route.seed == "metrics" else 422
            first = checked.problems[0]
            where = f"item {first.index}: " if first.index is not None else ""
            what = f"{first.field}: {first.message}" if first.field else first.message
            msg = f"{len(detail)} of {checked.total} items rejected; {where}{what}"
            return status, HttpError(status, "invalid_items", msg, detail=detail).body()
        return 200, _encode({"accepted": checked.count, "rejected": detail})

    def _media_type(self, raw: bytes | None) -> bool:
        """True for NDJSON, False for JSON; 415 for anything else."""
        if raw is None:
            return False  # clients that send no type mostly send JSON
        media = raw.split(b";", 1)[0].strip().lower().decode("latin-1")
        if media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json")):
            return False
        if media in NDJSON_TYPES:
            return True
        raise HttpError(
            415, "unsupported_media_type", f"Content-Type {media!r} is not accepted; send application/json or application/x-ndjson"
        )

    def _too_big(self) -> HttpError:
        return HttpError(413, "body_too_large", f"the body is over the limit of {self.max_body} bytes")

    async def _read_body(self, receive: Receive, encoding_header: bytes | None, length: bytes | None) -> bytes:
        encoding = (encoding_header or b"identity").strip().lower()
        if encoding not in (b"identity", b"gzip", b"x-gzip"):
            raise HttpError(
                415, "unsupported_encoding", f"Content-Encoding {encoding.decode('latin-1')!r} is not accepted; send gzip or none"
            )
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise self._too_big()
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise asyncio.CancelledError()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self._too_big()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if encoding == b"identity":
            return body
        try:
            return inflate(body, self.max_body)
        except GzipError as exc:
            raise HttpError(400, "malformed_body", str(exc)) from None
        except TooLarge:
            raise HttpError(413, "body_too_large", f"the body is over the limit of {self.max_body} bytes once decompressed") from None
