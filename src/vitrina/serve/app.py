"""The ASGI application of `vitrina up`: the intake hot path in front of the API, and a
lifespan that opens the pipeline before serving and drains it on shutdown."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from vitrina.config import Settings
from vitrina.intake.errors import HttpError
from vitrina.intake.http import IntakeApp, Receive, Scope, Send
from vitrina.pipeline import Pipeline
from vitrina.serve.api import build_api
from vitrina.serve.services import SERVICE_FACTORIES

log = logging.getLogger(__name__)


class BodyTimeout(BaseException):
    """The request body did not arrive in time. A BaseException, so that it passes through
    the apps' own `except Exception` handlers (which would answer 500) up to VitrinaApp."""


class _TimedReceive:
    """`receive` with a deadline for the body: uvicorn has none, and 300 half-sent bodies held
    their connections for minutes. Once the body is complete, later calls (a wait for the
    client to disconnect) are not timed."""

    __slots__ = ("deadline", "done", "receive")

    def __init__(self, receive: Receive, deadline: float) -> None:
        self.receive = receive
        self.deadline = deadline
        self.done = False

    async def __call__(self) -> dict[str, Any]:
        if self.done:
            return await self.receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self.receive()
        except TimeoutError:
            raise BodyTimeout() from None
        if not message.get("more_body", False):
            self.done = True
        return message


class VitrinaApp:
    def __init__(self, settings: Settings) -> None:
        self.body_timeout = settings.limits.body_timeout_s
        self.timed_out = HttpError(
            408, "body_timeout", f"the request body did not arrive within {self.body_timeout:g} s", [(b"connection", b"close")]
        )
        self.pipeline = Pipeline(settings)
        self.api = build_api(self.pipeline)
        self.services = [factory(self.pipeline) for factory in SERVICE_FACTORIES]
        for service in self.services:
            service.routes(self.api)
        self.intake = IntakeApp(self.pipeline, self.api)  # type: ignore[arg-type]  # Starlette's ASGI types are wider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self.intake(scope, receive, send)
            return
        timed = _TimedReceive(receive, asyncio.get_running_loop().time() + self.body_timeout)
        try:
            await self.intake(scope, timed, send)
        except BodyTimeout:
            await self._answer_timeout(send)

    async def _answer_timeout(self, send: Send) -> None:
        """408 and close the connection (`connection: close` makes uvicorn close it once the
        answer is written; the rest of the body is never read)."""
        self.pipeline.metrics.requests.labels("408").inc()
        body = self.timed_out.body()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), *self.timed_out.headers]
        try:
            await send({"type": "http.response.start", "status": 408, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        except RuntimeError:  # an answer had already started: uvicorn closes the connection
            pass

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: dict[str, Any] = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    loop = asyncio.get_running_loop()
                    await asyncio.to_thread(self.pipeline.open, loop)
                    for service in self.services:
                        await service.start()
                except Exception as exc:  # report why startup failed instead of a traceback
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for service in reversed(self.services):
                    await service.stop()
                await asyncio.to_thread(self.pipeline.close)
                await send({"type": "lifespan.shutdown.complete"})
                return
