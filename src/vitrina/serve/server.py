"""Running `vitrina up`: uvicorn on the composed app, a server file in the data folder so that
`vitrina sql` finds the running instance, and a clean drain on SIGINT/SIGTERM.

Before anything else, start-up binds the port and takes an exclusive lock on the data folder
(held for the process's life): a second `vitrina up` on a busy port or on a folder in use
refuses with one line, before it runs a migration or writes a file, and so cannot harm the
running server's folder or server file."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
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
LOCK_FILE = "vitrina.lock"  # flock()ed by the running server; holds its pid; never removed


def server_file(data_dir: Path) -> Path:
    return data_dir / SERVER_FILE


def _server_info(data_dir: Path) -> dict[str, object] | None:
    """The server file of a live `vitrina up` on this data folder, if any."""
    try:
        info = json.loads(server_file(data_dir).read_text())
        alive = _alive(int(info["pid"])) and bool(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if alive and isinstance(info, dict) else None


def running_url(data_dir: Path) -> str | None:
    """The URL of a live `vitrina up` on this data folder, if any."""
    info = _server_info(data_dir)
    return None if info is None else str(info["url"])


def base_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _running_here(data_dir: Path) -> str | None:
    """'URL (pid N)' of the vitrina that runs on this folder, if one does (read only)."""
    info = _server_info(data_dir)
    if info is not None:
        return f"{info['url']} (pid {info['pid']})"
    try:
        pid = int((data_dir / LOCK_FILE).read_text().strip() or 0)
    except (OSError, ValueError):
        pid = 0
    if pid and _alive(pid):
        return f"pid {pid}, still starting"
    return None


def listen(settings: Settings) -> socket.socket:
    """The server's socket, bound before anything else happens: a busy port is one line."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        return socket.create_server((settings.host, settings.port), family=family, backlog=2048)
    except OSError as exc:
        here = _running_here(settings.data_dir)
        where = f"; a vitrina already runs on {settings.data_dir}: {here}" if here else ""
        raise SystemExit(f"vitrina: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}{where}") from None


def lock_data_dir(data_dir: Path) -> int:
    """Take the data folder for this process (the lock goes with the process, even a killed
    one); a folder another vitrina holds is refused, naming it. Returns the lock's fd."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _running_here(data_dir) or "its pid is unknown"
        raise SystemExit(f"vitrina: another vitrina runs on {data_dir}: {holder}; stop it first, or use another --data-dir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _announce(info: Path, url: str) -> None:
    """Write the server file whole (the CLI may read it at any moment)."""
    tmp = info.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    os.replace(tmp, info)


def _withdraw(info: Path) -> None:
    """Remove the server file if it is this process's own: never another server's."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if json.loads(info.read_text()).get("pid") == os.getpid():
            info.unlink()


async def serve(settings: Settings, on_ready: Callable[[str], Awaitable[None] | None] | None = None) -> None:
    sock = listen(settings)
    try:
        lock = lock_data_dir(settings.data_dir)
    except SystemExit:
        sock.close()
        raise
    try:
        await _serve(settings, sock, on_ready)
    finally:
        os.close(lock)  # after the pipeline closed: the next server may open the folder


async def _serve(settings: Settings, sock: socket.socket, on_ready: Callable[[str], Awaitable[None] | None] | None) -> None:
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
    url = base_url(settings)
    info = server_file(settings.data_dir)
    server = _Server(config, on_signal=lambda: _withdraw(info))

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        settle_gc()
        _announce(info, url)
        if on_ready is not None:
            result = on_ready(url)
            if asyncio.iscoroutine(result):
                await result

    watcher = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        watcher.cancel()
        _withdraw(info)
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
