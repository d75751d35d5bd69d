"""Running `vitrina up`: uvicorn on the composed app, a server file in the data folder so that
`vitrina sql` finds the running instance, and a clean drain on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType

import uvicorn
import uvloop

from vitrina.config import Settings
from vitrina.runtime import settle_gc
from vitrina.serve.app import VitrinaApp

log = logging.getLogger(__name__)
SERVER_FILE = "server.json"


def server_file(data_dir: Path) -> Path:
    return data_dir / SERVER_FILE


def running_url(data_dir: Path) -> str | None:
    """The URL of a live `vitrina up` on this data folder, if any."""
    path = server_file(data_dir)
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(info["url"])


def base_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


async def serve(settings: Settings, on_ready: Callable[[str], Awaitable[None] | None] | None = None) -> None:
    app = VitrinaApp(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="none",  # the loop is run() below's: Config's loop applies only to uvicorn.run()
        http="httptools",
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # the client address is never used; the middleware costs per request
        log_level="warning",
        timeout_graceful_shutdown=30,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = base_url(settings)
    info = server_file(settings.data_dir)
    server = _Server(config, on_signal=lambda: info.unlink(missing_ok=True))

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        settle_gc()
        info.write_text(json.dumps({"url": url, "pid": os.getpid()}))
        if on_ready is not None:
            result = on_ready(url)
            if asyncio.iscoroutine(result):
                await result

    watcher = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        info.unlink(missing_ok=True)
    if not server.started:
        raise SystemExit("vitrina could not start (see the log above)")


class _Server(uvicorn.Server):
    """uvicorn's server, also withdrawing the server file when a signal starts the shutdown:
    uvicorn re-raises SIGTERM/SIGINT once it has drained, which ends the process before any
    `finally` after serve() could run."""

    def __init__(self, config: uvicorn.Config, on_signal: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_signal = on_signal

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.on_signal()
        super().handle_exit(sig, frame)


def run(settings: Settings, on_ready: Callable[[str], Awaitable[None] | None] | None = None) -> None:
    """Serve on uvloop. asyncio.run() would give the standard loop, whose Python transports
    cost a third of the intake's throughput (py-spy: most of the event loop's time was
    spent in _SelectorSocketTransport.write)."""
    uvloop.run(serve(settings, on_ready))
