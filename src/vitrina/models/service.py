"""The model scheduler inside `vitrina up`, and the models' HTTP routes (which the CLI uses
while a server holds the chdb folder)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from vitrina.auth.scopes import Scope, needs
from vitrina.errors import HttpError, error_responses, not_ready
from vitrina.models.db import Db
from vitrina.models.runner import ModelRunner
from vitrina.models.spec import ModelError, builtin_models
from vitrina.models.window import RequestTime, as_utc
from vitrina.periodic import Periodic
from vitrina.pipeline import Pipeline

log = logging.getLogger(__name__)


class RunRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # the documented types only: no 0 for a bool

    names: list[str] | None = None
    full: bool = False
    now: Annotated[RequestTime | None, Field(strict=False)] = None  # the run's clock: tests drive late data and look-backs with it


class ModelsService:
    name = "models"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings.models
        self.runner: ModelRunner | None = None
        self.scheduler = Periodic("model scheduler", self._round, self.settings.tick_s, log=log)

    def routes(self, api: FastAPI) -> None:
        @api.get("/v1/models", tags=["models"], responses=error_responses({"503": "Starting"}), openapi_extra=needs(Scope.READ))
        async def models() -> list[dict[str, Any]]:
            """Models with their dependencies, cadence and last run."""
            return await asyncio.to_thread(self._runner().status)

        @api.post(
            "/v1/models/run",
            tags=["models"],
            responses=error_responses({"404": "Unknown model", "503": "Starting"}),
            openapi_extra=needs(Scope.OPERATE),
        )
        async def run(body: RunRequest) -> list[dict[str, Any]]:
            """Run models (all, or the named ones after their dependencies) now."""
            now = as_utc(body.now) if body.now else None
            try:
                results = await asyncio.to_thread(self._runner().run, body.names, full=body.full, now=now)
            except ModelError as exc:
                raise HttpError(404, "unknown_model", str(exc)) from None
            return [r.as_dict() for r in results]

    def _runner(self) -> ModelRunner:
        if self.runner is None:
            raise not_ready()
        return self.runner

    async def start(self) -> None:
        assert self.pipeline.warehouse is not None
        wh = self.pipeline.warehouse
        models = [*builtin_models(), *self.pipeline.settings.extra_models]
        self.runner = await asyncio.to_thread(lambda: ModelRunner(Db.of(wh), models, self.settings))
        if self.settings.enabled:
            self.scheduler.start()

    async def _round(self) -> None:
        assert self.runner is not None
        due = await asyncio.to_thread(self.runner.due, datetime.now(UTC))
        if due:
            await asyncio.to_thread(self.runner.run, due)

    async def stop(self) -> None:
        await self.scheduler.stop()
        if self.runner is not None:
            await asyncio.to_thread(self.runner.close)  # waits for a run still in its thread
