"""Background services that run inside `vitrina up` beside intake (the model scheduler, the
alert evaluator, ...). Each is started after the pipeline opened and stopped before it closes;
each may also add routes to the API.

To add one: implement `Service` and list its factory in `SERVICE_FACTORIES` below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from fastapi import FastAPI

from vitrina.pipeline import Pipeline


class Service(Protocol):
    name: str

    def routes(self, api: FastAPI) -> None:
        """Add this service's HTTP routes (called once, before serving)."""

    async def start(self) -> None:
        """Called once the pipeline is open; start background tasks here."""

    async def stop(self) -> None:
        """Called on shutdown, before the pipeline closes; stop and wait for tasks."""


# Factories take the pipeline (settings, warehouse, streams, metrics) and return a Service.
SERVICE_FACTORIES: list[Callable[[Pipeline], Service]] = [
    # (issue 4) models scheduler and alert evaluator; (issue 5) dashboard
]
