"""The ASGI application of `vitrina up`: the intake hot path in front of the API, and a
lifespan that opens the pipeline before serving and drains it on shutdown."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from vitrina.config import Settings
from vitrina.intake.http import IntakeApp, Receive, Scope, Send
from vitrina.pipeline import Pipeline
from vitrina.serve.api import build_api
from vitrina.serve.services import SERVICE_FACTORIES

log = logging.getLogger(__name__)


class VitrinaApp:
    def __init__(self, settings: Settings) -> None:
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
        await self.intake(scope, receive, send)

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
