"""The report scheduler inside `vitrina up`, and the route the CLI uses while a server holds the
chdb folder. A period is written once it has closed and the upload models have run `delay_s`
past its end (so late events are in); the manifest at the destination says it is done, so a
restart neither skips nor repeats a period."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from vitrina.auth.scopes import Scope, needs
from vitrina.config import Settings
from vitrina.errors import HttpError, error_responses, not_ready
from vitrina.models.db import Db
from vitrina.models.state import last_ok_run_at
from vitrina.periodic import Periodic
from vitrina.pipeline import Pipeline
from vitrina.reports.content import SOURCE_MODEL, ModelsMissing
from vitrina.reports.periods import Period, last_closed, parse_period, require_closed
from vitrina.reports.settings import PERIODS, ReportSettings
from vitrina.reports.writer import is_written, write_period

log = logging.getLogger(__name__)


class ReportRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # the documented types only: no false for a seller

    period: str | None = None  # a day (YYYY-MM-DD) or week (YYYY-Www); default: the last closed one
    kind: str | None = None  # day | week; default: [reports] period
    sellers: list[
        Annotated[int, Field(ge=0, le=2**64 - 1)]
    ] = []  # seller ids are UInt64: a negative one was a 500  # default: [reports] sellers, or the most active ones
    partial: bool = False  # allow a period that has not ended (its reports miss what is to come)


def destination_of(settings: Settings) -> str:
    return settings.reports.destination or str((settings.data_dir / "reports").resolve())


def requested_period(settings: ReportSettings, kind: str | None, text: str | None, now: datetime) -> Period:
    kind = kind or settings.period
    if kind not in PERIODS:
        raise ValueError(f"kind {kind!r}: choose {' or '.join(PERIODS)}")
    return parse_period(kind, text) if text else last_closed(kind, now)


class ReportsService:
    name = "reports"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.settings: ReportSettings = pipeline.settings.reports
        self.destination = destination_of(pipeline.settings)
        self._db: Db | None = None
        self.scheduler = Periodic("reports", self._round, self.settings.tick_s, wait_first=False, log=log)
        self._lock = asyncio.Lock()  # one writer at a time: the scheduler and an API call
        self._done: set[Period] = set()

    def routes(self, api: FastAPI) -> None:
        @api.post(
            "/v1/reports/run",
            openapi_extra=needs(Scope.OPERATE),
            tags=["reports"],
            responses=error_responses({"400": "A bad period", "409": "The models have not run for it", "503": "Starting"}),
        )
        async def run(body: ReportRequest) -> dict[str, Any]:
            """Write one period's reports now (again, if they exist) and say where."""
            try:
                now = datetime.now(UTC)
                period = requested_period(self.settings, body.kind, body.period, now)
                require_closed(period, now, body.partial)
            except ValueError as exc:
                raise HttpError(400, "bad_period", str(exc)) from None
            try:
                written = await self._write(period, tuple(body.sellers))
            except ModelsMissing as exc:
                raise HttpError(409, "models_missing", str(exc)) from None
            return written

    def _db_handle(self) -> Db:
        if self._db is None:
            raise not_ready()
        return self._db

    async def _write(self, period: Period, sellers: tuple[int, ...] = ()) -> dict[str, Any]:
        db = self._db_handle()
        async with self._lock:
            written = await asyncio.to_thread(write_period, db, self.settings, self.destination, period, sellers)
        log.info(
            "reports for %s %s: %d sellers, %d files in %.1fs", period.kind, period.label, written.sellers, written.files, written.seconds
        )
        return written.as_dict()

    async def start(self) -> None:
        assert self.pipeline.warehouse is not None
        self._db = await asyncio.to_thread(Db.of, self.pipeline.warehouse)
        if self.settings.enabled:
            self.scheduler.start()

    def _due(self, now: datetime) -> Period | None:
        """The last closed period, if the models have run long enough past its end and its
        reports are not written yet."""
        assert self._db is not None
        period = last_closed(self.settings.period, now)
        if period in self._done:
            return None
        ran = last_ok_run_at(self._db).get(SOURCE_MODEL)
        if ran is None or ran < period.end_time + timedelta(seconds=self.settings.delay_s):
            return None
        if is_written(self.destination, period):
            self._done.add(period)
            return None
        return period

    async def _round(self) -> None:
        period = await asyncio.to_thread(self._due, datetime.now(UTC))
        if period is not None:
            await self._write(period)
            self._done.add(period)

    async def stop(self) -> None:
        await self.scheduler.stop()
        if self._db is not None:
            async with self._lock:
                await asyncio.to_thread(self._db.close)
