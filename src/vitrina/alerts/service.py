"""The alert evaluator inside `vitrina up`: a timer, the gauges on /metrics, and routes for the
CLI and for tests (which drive the clock through `now`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from vitrina.alerts.evaluator import Evaluator
from vitrina.alerts.figures import load_figures
from vitrina.alerts.gauges import FigureGauges
from vitrina.alerts.notify import Notifier
from vitrina.alerts.rules import load_rules
from vitrina.alerts.settings import AlertSettings
from vitrina.alerts.source import SqlFigures
from vitrina.alerts.state import StateStore
from vitrina.auth.scopes import Scope, needs
from vitrina.errors import error_responses, not_ready
from vitrina.models.db import Db
from vitrina.models.window import RequestTime, as_utc
from vitrina.periodic import Periodic
from vitrina.pipeline import Pipeline

log = logging.getLogger(__name__)
STATE_FILE = "alerts-state.json"


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # the documented types only: no 0 for a bool

    now: Annotated[RequestTime | None, Field(strict=False)] = None
    dry_run: bool = False  # test the rules without changing states or notifying


def build_evaluator(db: Db, settings: AlertSettings, data_dir: Path, gauges: FigureGauges | None = None) -> Evaluator:
    figures = load_figures(settings.figures)
    return Evaluator(
        load_rules(settings),
        SqlFigures(db, figures),
        StateStore(data_dir / STATE_FILE),
        Notifier(settings.webhooks).send,
        on_values=gauges.update if gauges is not None else None,
    )


class AlertsService:
    name = "alerts"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings.alerts
        self.gauges = FigureGauges(load_figures(self.settings.figures))
        pipeline.metrics.registry.register(self.gauges)
        self.evaluator: Evaluator | None = None
        self._db: Db | None = None
        self.timer = Periodic("alert evaluation", self._round, self.settings.interval_s, log=log)

    def routes(self, api: FastAPI) -> None:
        @api.get("/v1/alerts", tags=["alerts"], responses=error_responses({"503": "Starting"}), openapi_extra=needs(Scope.READ))
        async def alerts() -> list[dict[str, Any]]:
            """Rules and the state of each of their alerts."""
            return await asyncio.to_thread(self._evaluator().table)

        @api.post(
            "/v1/alerts/evaluate", tags=["alerts"], responses=error_responses({"503": "Starting"}), openapi_extra=needs(Scope.OPERATE)
        )
        async def evaluate(body: EvaluateRequest) -> dict[str, Any]:
            """One evaluation round now (or at `now`); `dry_run` only reports the conditions."""
            ev, now = self._evaluator(), as_utc(body.now) if body.now else None
            if body.dry_run:
                checks = await asyncio.to_thread(ev.check, now)
                return {"checks": [c.__dict__ for c in checks]}
            sent = await asyncio.to_thread(ev.evaluate, now)
            return {"notified": [a.as_dict() for a in sent], "rules": await asyncio.to_thread(ev.table)}

    def _evaluator(self) -> Evaluator:
        if self.evaluator is None:
            raise not_ready()
        return self.evaluator

    async def start(self) -> None:
        assert self.pipeline.warehouse is not None
        wh = self.pipeline.warehouse
        self._db = await asyncio.to_thread(Db.of, wh)
        db = self._db
        self.evaluator = await asyncio.to_thread(build_evaluator, db, self.settings, self.pipeline.settings.data_dir, self.gauges)
        if self.settings.enabled:
            self.timer.start()

    async def _round(self) -> None:
        assert self.evaluator is not None
        await asyncio.to_thread(self.evaluator.evaluate)

    async def stop(self) -> None:
        await self.timer.stop()
        if self.evaluator is not None and self._db is not None:
            await asyncio.to_thread(self.evaluator.exclusive, self._db.close)  # after a round still running
