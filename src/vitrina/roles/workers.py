"""`vitrina api --workers N`: N worker processes serving one port.

The supervisor binds the port, then forks the workers (before it has started a thread, so a
fork copies no lock held by another thread); each accepts on the inherited socket and the
kernel spreads the connections. A worker that dies is replaced; SIGTERM or SIGINT is passed
to every worker, which drains (answers what it has read, flushes the broker's producer) and
ends; one still running after STOP_GRACE_S is killed. uvicorn's own `--workers` spawns fresh
interpreters that import the app by name, which cannot carry the settings given on the
command line: hence this fork supervisor.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from types import FrameType

import uvicorn
import uvloop

from vitrina.config import Settings
from vitrina.roles.api import ApiPipeline, api_services
from vitrina.roles.worker_metrics import retire
from vitrina.runtime import settle_gc
from vitrina.serve.app import VitrinaApp
from vitrina.serve.server import listen, lock_data_dir

log = logging.getLogger(__name__)
STOP_GRACE_S = 55.0  # inside compose's stop_grace_period of 60 s
WORKER_DRAIN_S = 30  # uvicorn's wait for open requests; the rest of the grace flushes the producer
RESPAWN_PAUSE_S = 1.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>  # a worker that dies at once is not restarted in a tight loop


def refuse_direct(settings: Settings, workers: int) -> str | None:
    """Why these settings cannot run `workers` processes, or None."""
    if workers < 1:
        return "--workers must be 1 or more"
    if settings.transport.kind == "direct" and workers > 1:
        return (
            "--transport direct keeps the write-ahead log and the embedded ClickHouse in one process: "
            "it cannot run more than one worker. Use --transport kafka or redis (and `vitrina load`), or --workers 1"
        )
    return None


def serve_worker(settings: Settings, sock: socket.socket, metrics_dir: Path | None) -> None:
    """One worker, until SIGTERM/SIGINT: uvicorn on the shared socket."""
    pipeline = ApiPipeline(settings, metrics_dir)
    app = VitrinaApp(settings, pipeline, api_services)
    config = uvicorn.Config(
        app,
        loop="none",
        http="httptools",
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=WORKER_DRAIN_S,
    )
    server = uvicorn.Server(config)
    settle_gc()
    uvloop.run(server.serve(sockets=[sock]))
    if not server.started:
        raise SystemExit("vitrina api: the worker could not start (see the log above)")


class Supervisor:
    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings = settings
        self.workers = workers
        self.children: dict[int, float] = {}  # pid -> started at
        self.stopping = False
        self.metrics_dir = Path(tempfile.mkdtemp(prefix="vitrina-api-metrics-"))

    def run(self) -> None:
        sock = listen(self.settings)
        try:
            for _ in range(self.workers):
                self._spawn(sock)
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
            log.info("vitrina api: %d workers on %s:%d", self.workers, self.settings.host, self.settings.port)
            self._watch(sock)
        finally:
            sock.close()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _spawn(self, sock: socket.socket) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
                    signal.signal(sig, signal.SIG_DFL)
                _end_with_parent()
                serve_worker(self.settings, sock, self.metrics_dir)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("vitrina api worker failed")
                code = 1
            os._exit(code)
        self.children[pid] = time.monotonic()

    def _watch(self, sock: socket.socket) -> None:
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            started = self.children.pop(pid, None)
            if started is None:
                continue
            retire(self.metrics_dir, pid)
            if self.stopping:
                continue
            log.warning("vitrina api worker %d ended (%s); starting another", pid, _how(status))
            if time.monotonic() - started < 5:
                time.sleep(RESPAWN_PAUSE_S)
            self._spawn(sock)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            signal.signal(signal.SIGALRM, self._kill_rest)
            signal.alarm(int(STOP_GRACE_S))
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _kill_rest(self, sig: int, frame: FrameType | None) -> None:
        for pid in list(self.children):
            log.error("vitrina api worker %d did not stop within %.0f s; killing it", pid, STOP_GRACE_S)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _end_with_parent() -> None:
    """A worker whose supervisor was killed gets SIGTERM and drains (Linux's
    PR_SET_PDEATHSIG; elsewhere orphans run until stopped)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def run_api(settings: Settings, workers: int) -> None:
    """`vitrina api`: with the direct transport, one process on its data folder (as `vitrina
    up` without the scheduler); with a broker, the supervisor and its workers."""
    if settings.transport.kind == "direct":
        sock = listen(settings)
        lock = lock_data_dir(settings.data_dir)
        try:
            serve_worker(settings, sock, None)
        finally:
            os.close(lock)
        return
    Supervisor(settings, workers).run()
