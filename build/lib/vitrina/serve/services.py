"""Background services that run inside `vitrina up` beside intake (the model scheduler, the
alert evaluator, ...). Each is started after the pipeline opened and stopped before it closes;
each may also add routes to the API.

To add one: implement `Service` and list its factory in `SERVICE_FACTORIES` below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from fastapi import FastAPI

from vitrina.alerts.service import AlertsService
from vitrina.models.service import ModelsService
from vitrina.pipeline import Pipeline
from vitrina.reports.service import ReportsService
from vitrina.serve.dashboards.service import DashboardService


class Service(Protocol):
    name: str

    def routes(self, api: FastAPI) -> None:
        """Add this service's HTTP routes (called once, before serving)."""

    async def start(self) -> None:
        """Called once the pipeline is open; start background tasks here."""

    async def stop(self) -> None:
        """Called on shutdown, before the pipeline closes; stop and wait for tasks."""


# Factories take the pipeline (settings, warehouse, streams, metrics) and return a Service.
def _loader(pipeline: Pipeline) -> Service:
    from vitrina.load.service import LoaderService  # (issue 3) Kafka / Redis loaders

    return LoaderService(pipeline)


SERVICE_FACTORIES: list[Callable[[Pipeline], Service]] = [
    _loader,
    ModelsService,  # (issue 4) the model scheduler
    AlertsService,  # (issue 4) the alert evaluator and its gauges
    DashboardService,  # (issue 5) the built-in dashboard at /
    ReportsService,  # per-seller periodic reports to a folder or S3
]
