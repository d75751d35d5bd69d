"""`vitrina load`: a loader group in its own process, with /healthz, /readyz and /metrics.
Any number of these processes share the consumer group (Kafka) or the stream group (Redis)."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from vitrina.config import Settings
from vitrina.health import StorageHealth
from vitrina.load.service import LoaderGroup
from vitrina.roles.ops import OpsServer
from vitrina.runtime import settle_gc
from vitrina.selfmetrics import PipelineMetrics
from vitrina.serve.server import lock_data_dir
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate
from vitrina.warehouse.sink import WarehouseSink

log = logging.getLogger(__name__)
RETRY_MAX_S = 30.0
STOP_TIMEOUT_S = 50.0  # inside compose's stop_grace_period of 60 s


class LoadRole:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = PipelineMetrics(lambda: 0)
        self.health = StorageHealth()
        self.metrics.watch_storage(lambda: False, lambda: self.health.warehouse_failing)
        self.group: LoaderGroup | None = None
        self.problem: str | None = "starting"
        self.stop = threading.Event()

    def readiness(self) -> tuple[str | None, dict[str, object]]:
        problem = self.problem or self.health.problem()
        return problem, {"loaders": len(self.group.threads) if self.group else 0}

    def _warehouse(self, owner: bool) -> Warehouse | None:
        """Connected and migrated, retried until the warehouse answers; None if stopped first."""
        s, pause = self.settings, 0.5
        while not self.stop.is_set():
            try:
                wh = Warehouse(parse_dsn(s.warehouse_dsn, s.database, s.warehouse.cluster), fsync=s.writer.fsync, owner=owner)
                migrate(wh, s.streams.values(), s.retention)
                return wh
            except Exception as exc:
                self.problem = f"the warehouse is not reachable: {exc}"
                log.warning("loader: %s; retrying in %.1f s", self.problem, pause)
                self.stop.wait(pause)
                pause = min(pause * 2, RETRY_MAX_S)
        return None

    def run(self, ops: OpsServer | None) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
        if ops is not None:
            ops.start()
        # On the embedded engine the folder is this process's alone, as for `vitrina up`: with
        # its lock held, the warehouse repairs what a killed predecessor left before the
        # loaders replay it (warehouse/crash.py). The lock goes with the process.
        embedded = parse_dsn(self.settings.warehouse_dsn).embedded
        if embedded:
            lock_data_dir(self.settings.data_dir)
        wh = self._warehouse(owner=embedded)
        if wh is None:
            return
        self.group = LoaderGroup(self.settings.transport, self.settings.streams, wh, WarehouseSink(wh), self.metrics, self.health)
        self.group.start()
        self.problem = None
        settle_gc()
        print(f"loading from {self.settings.transport.kind} with {len(self.group.threads)} loader(s); Ctrl-C stops", file=sys.stderr)
        while not self.stop.wait(0.5):  # a timed wait lets the signal handlers run
            pass
        self.problem = "stopping"
        self.group.stop(STOP_TIMEOUT_S)
        wh.close()


def run_load(settings: Settings, host: str, port: int | None) -> None:
    # The consumer thread holds the GIL while it builds thousands of messages; a short
    # switch interval hands it to the insert thread sooner (+20 % loader rate, bench/transport.py).
    sys.setswitchinterval(0.0001)
    role = LoadRole(settings)
    ops = OpsServer(host, port, role.metrics.registry, role.readiness) if port is not None else None
    try:
        role.run(ops)
    finally:
        if ops is not None:
            ops.stop()
