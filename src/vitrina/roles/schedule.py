"""`vitrina schedule`: the model scheduler, the alert evaluator and the report writer, in the
one active member of the scheduler group (roles/election.py); the others wait as standbys.

A standby runs none of them and publishes no alert figures (their gauges are emptied when a
member stops being active), so Prometheus sees each figure once; every member exports
`vitrina_scheduler_active` (1 on the active one) on /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from prometheus_client import Gauge

from vitrina.alerts.service import AlertsService
from vitrina.config import Settings
from vitrina.models.service import ModelsService
from vitrina.pipeline import Pipeline
from vitrina.reports.service import ReportsService
from vitrina.roles.election import KafkaElection, coordination_topic
from vitrina.roles.ops import OpsServer
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate

log = logging.getLogger(__name__)
SWITCH_TIMEOUT_S = 50.0  # the longest a hand-over waits for this member's rounds to stop
RETRY_MAX_S = 30.0


class Scheduler:
    def __init__(self, settings: Settings) -> None:
        if settings.transport.kind != "kafka":
            raise SystemExit(
                "vitrina schedule: the active scheduler is elected through a Kafka consumer group: "
                "set --transport kafka (or VITRINA_TRANSPORT__KIND=kafka); with one process, `vitrina up` schedules"
            )
        self.settings = settings
        self.pipeline = Pipeline(settings)  # settings, metrics and the warehouse the services read
        self.alerts = AlertsService(self.pipeline)
        self.services: list[ModelsService | AlertsService | ReportsService] = [
            ModelsService(self.pipeline),
            self.alerts,
            ReportsService(self.pipeline),
        ]
        self.active_gauge = Gauge(
            "vitrina_scheduler_active", "1 on the scheduler that runs models, alerts and reports", registry=self.pipeline.metrics.registry
        )
        t = settings.transport
        group = f"{t.group}-scheduler"
        self.election = KafkaElection(t.kafka, coordination_topic(t.topic_prefix), group, t.session_timeout_ms, self._on_change)
        self.running = False  # the services run (only on the event loop)
        self.problem: str | None = "starting"
        self.failed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self._switch = asyncio.Lock()

    # -- readiness -------------------------------------------------------------------------------

    def readiness(self) -> tuple[str | None, dict[str, object]]:
        """Ready: active, or a standby that is in the group and could take over."""
        problem = self.problem or (f"the scheduler group reports: {self.election.error}" if self.election.error else None)
        if problem is None and not self.election.joined:
            problem = "joining the scheduler group"
        return problem, {"active": self.running}

    # -- the term of the active member ---------------------------------------------------------

    def _on_change(self, active: bool) -> None:
        """From the election's thread: start, or stop and wait until stopped."""
        assert self._loop is not None
        done = asyncio.run_coroutine_threadsafe(self._activate() if active else self._deactivate(), self._loop)
        if not active:
            done.result(SWITCH_TIMEOUT_S)

    async def _activate(self) -> None:
        async with self._switch:
            if self.running or not self.election.active or self._stop.is_set():
                return
            self.running = True  # from here _deactivate stops what started
            try:
                for service in self.services:
                    await service.start()
            except Exception:  # the election thread does not wait for this: say it here
                log.exception("scheduler: elected, but a service could not start; leaving the group for another member")
                self.failed = True
                self._stop.set()  # run() stops what started and leaves the group
                return
            self.active_gauge.set(1)
            log.info("scheduler: active (models, alerts, reports)")

    async def _deactivate(self) -> None:
        async with self._switch:
            if not self.running:
                return
            self.running = False
            self.active_gauge.set(0)
            for service in reversed(self.services):
                await service.stop()
            self.alerts.gauges.update({})  # a standby publishes no figures
            log.info("scheduler: standby")

    # -- the process -----------------------------------------------------------------------------

    async def run(self, ops: OpsServer) -> None:
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, self._stop.set)
        ops.start()
        if not await self._open_warehouse():
            return
        await asyncio.to_thread(self.election.start)
        self.problem = None
        await self._stop.wait()
        log.info("scheduler: stopping")
        await self._deactivate()
        await asyncio.to_thread(self.election.stop)  # leaves the group: a standby takes over at once
        if self.pipeline.warehouse is not None:
            await asyncio.to_thread(self.pipeline.warehouse.close)

    async def _open_warehouse(self) -> bool:
        """Connect and migrate, retried until the warehouse answers; False if stopped first."""
        s, pause = self.settings, 0.5
        while not self._stop.is_set():
            try:
                wh = await asyncio.to_thread(Warehouse, parse_dsn(s.warehouse_dsn, s.database, s.warehouse.cluster))
                await asyncio.to_thread(migrate, wh, s.streams.values(), s.retention)
            except Exception as exc:
                self.problem = f"the warehouse is not reachable: {exc}"
                log.warning("scheduler: %s; retrying in %.1f s", self.problem, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), pause)
                pause = min(pause * 2, RETRY_MAX_S)
                continue
            self.pipeline.warehouse = wh
            return True
        return False


def run_schedule(settings: Settings, host: str, port: int) -> None:
    import uvloop

    scheduler = Scheduler(settings)
    ops = OpsServer(host, port, scheduler.pipeline.metrics.registry, scheduler.readiness)
    try:
        uvloop.run(scheduler.run(ops))
    finally:
        ops.stop()
    if scheduler.failed:
        raise SystemExit("vitrina schedule: stopped after a failed start of its services (see the log)")
