"""The ASGI application of `vitrina up`: with `[auth] enabled` the key checks in front of
everything (auth/middleware.py), then the intake hot path in front of the API, and a lifespan
that opens the pipeline before serving and drains it on shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vitrina.auth.guard import Guard
from vitrina.auth.middleware import AuthMiddleware
from vitrina.auth.scopes import RouteScopes
from vitrina.config import Settings
from vitrina.errors import HttpError
from vitrina.intake.http import IntakeApp
from vitrina.pipeline import Pipeline
from vitrina.serve.api import build_api
from vitrina.serve.services import Service, build_services

log = logging.getLogger(__name__)


class BodyRefused(BaseException):
    """The request body did not arrive in time, or is over the size limit. A BaseException,
    so that it passes through the apps' own `except Exception` handlers (which would answer
    500) up to VitrinaApp, which answers it."""

    def __init__(self, answer: HttpError) -> None:
        super().__init__(answer.message)
        self.answer = answer


class _TimedReceive:
    """`receive` with a deadline and a size limit for the body: uvicorn has neither, 300
    half-sent bodies held their connections for minutes, and the API's POSTs read any size
    into memory (intake checks its own, after gzip too). Once the body is complete, later calls
    (a wait for the client to disconnect) are not timed.

    The deadline is kept by one sweeper task (VitrinaApp._sweep), not a timer per request:
    asyncio.timeout() around each receive cost 17-30 us a request, a tenth of a single-event
    request's CPU; this costs a dict insert and delete."""

    __slots__ = ("app", "deadline", "done", "expired", "receive", "size", "task")

    def __init__(self, app: VitrinaApp, receive: Receive, deadline: float) -> None:
        self.app = app
        self.receive = receive
        self.deadline = deadline
        self.done = False
        self.expired = False
        self.size = 0
        self.task: asyncio.Task[Any] | None = None

    async def __call__(self) -> Message:
        if self.done:
            return await self.receive()
        reading = self.app.reading
        self.task = asyncio.current_task()
        reading[self] = None
        try:
            message = await self.receive()
        except asyncio.CancelledError:
            if not self.expired or self.task is None:
                raise
            self.task.uncancel()  # the sweeper's cancel, not the server's: answer 408 instead
            raise BodyRefused(self.app.timed_out) from None
        finally:
            reading.pop(self, None)
        self.size += len(message.get("body", b""))
        if self.size > self.app.max_body:
            raise BodyRefused(self.app.too_large)
        if not message.get("more_body", False):
            self.done = True
        return message


class VitrinaApp:
    def __init__(
        self, settings: Settings, pipeline: Pipeline | None = None, services: Callable[[Pipeline], list[Service]] = build_services
    ) -> None:
        """`vitrina up`'s app; a role (roles/api.py) passes its own pipeline and services."""
        self.body_timeout = settings.limits.body_timeout_s
        close = [(b"connection", b"close")]  # the rest of the body is never read
        self.timed_out = HttpError(408, "body_timeout", f"the request body did not arrive within {self.body_timeout:g} s", close)
        self.max_body = settings.limits.max_body_bytes
        # No close: uvicorn reads and drops the rest, and the client gets to read the answer.
        self.too_large = HttpError(413, "body_too_large", f"the body is over the limit of {self.max_body} bytes")
        self.reading: dict[_TimedReceive, None] = {}  # bodies being read, for the sweeper
        self._sweeper: asyncio.Task[None] | None = None
        self.pipeline = pipeline or Pipeline(settings)
        self.api = build_api(self.pipeline)
        self.services = services(self.pipeline)
        for service in self.services:
            service.routes(self.api)
        self.app = self._front(self.pipeline)

    def _front(self, pipeline: Pipeline) -> ASGIApp:
        """The intake in front of the API, and with keys on the key checks in front of both;
        with keys off no middleware at all (intake's hot path pays nothing for auth then)."""
        keys = pipeline.keys
        guard = Guard(keys, pipeline.metrics.registry) if keys is not None else None
        self.intake = IntakeApp(pipeline, self.api, guard)
        if guard is None:
            return self.intake
        requests = pipeline.metrics.requests
        # after every route is registered: the scopes are read from the routes
        return AuthMiddleware(self.intake, guard, RouteScopes(self.intake, self.api), lambda status: requests.labels(str(status)).inc())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if self._sweeper is None:
            self._sweeper = loop.create_task(self._sweep(loop))
        timed = _TimedReceive(self, receive, loop.time() + self.body_timeout)
        try:
            await self.app(scope, timed, send)
        except BodyRefused as exc:
            await self._refuse_body(send, exc.answer)

    async def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the body reads past their deadline, a few times per timeout (a body is cut
        within a quarter of the timeout, at most a second, after its deadline)."""
        every = min(1.0, self.body_timeout / 4)
        while True:
            await asyncio.sleep(every)
            now = loop.time()
            for late in [r for r in self.reading if r.deadline <= now]:
                late.expired = True
                if late.task is not None:
                    late.task.cancel()

    async def _refuse_body(self, send: Send, answer: HttpError) -> None:
        """408 or 413 (a 408 with `connection: close`, which makes uvicorn close the connection
        once the answer is written)."""
        self.pipeline.metrics.requests.labels(str(answer.status)).inc()
        body = answer.body()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), *answer.headers]
        try:
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        except RuntimeError:  # an answer had already started: uvicorn closes the connection
            pass

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start()
                except SystemExit as exc:  # a one-line refusal (reach.Unreachable): no traceback
                    log.error("%s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                except Exception as exc:  # report why startup failed instead of a traceback
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._sweeper is not None:
                    self._sweeper.cancel()
                await self._stop(self.services)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        """Open the pipeline, then start the services in order. If one fails, the ones
        already started are stopped in reverse order and the pipeline closed, before the
        failure is reported: a loader that joined its consumer group leaves it at once, rather
        than holding its partitions until the broker's session timeout."""
        started: list[Service] = []
        try:
            await asyncio.to_thread(self.pipeline.open, asyncio.get_running_loop())
            for service in self.services:
                await service.start()
                started.append(service)
        except BaseException:
            await self._stop(started)
            raise

    async def _stop(self, services: list[Service]) -> None:
        """Stop `services` in reverse order, then close the pipeline; a service that fails to
        stop is logged and the others still stop."""
        for service in reversed(services):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)
        await asyncio.to_thread(self.pipeline.close)
