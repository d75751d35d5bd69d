"""Background services that run inside `vitrina up` beside intake (the model scheduler, the
alert evaluator, ...). Each is started after the pipeline opened and stopped before it closes;
each may also add routes to the API.

To add one: implement `Service` and add it in `build_services` below.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from fastapi import FastAPI

from vitrina.alerts.service import AlertsService
from vitrina.load.service import LoaderGroup
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


class LoaderService:
    """The loader group inside `vitrina up` with a Kafka or Redis transport (embedded chdb
    allows one process per data folder, so there the loaders must share the process)."""

    name = "loader"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.group: LoaderGroup | None = None

    def routes(self, api: FastAPI) -> None:
        pass

    async def start(self) -> None:
        p = self.pipeline
        t = p.settings.transport
        if t.kind == "direct" or not t.loader:
            return
        assert p.warehouse is not None and p.sink is not None
        self.group = LoaderGroup(t, p.streams, p.warehouse, p.sink, p.metrics, p.health)
        self.group.start()

    async def stop(self) -> None:
        if self.group is not None:
            await asyncio.to_thread(self.group.stop)


def build_services(pipeline: Pipeline) -> list[Service]:
    """The services of one `vitrina up`, in start order (stopped in reverse); each takes the
    pipeline (settings, warehouse, streams, metrics), the dashboard also the alerts it shows."""
    alerts = AlertsService(pipeline)  # the alert evaluator and its gauges
    return [
        LoaderService(pipeline),  # Kafka / Redis loaders
        ModelsService(pipeline),  # the model scheduler
        alerts,
        DashboardService(pipeline, alerts),  # the built-in dashboard at /
        ReportsService(pipeline),  # per-seller periodic reports to a folder or S3
    ]
