"""The single-event intake path in process, without sockets: what vitrina's own code costs
per request, in figures that a busy or noisy machine does not move much.

    .venv/bin/python -m bench.hotpath --requests 50000
    .venv/bin/python -m bench.compare REV hotpath          (the same against an older revision)

A real `vitrina up` application (ack = wal, the write-ahead log and its loader into embedded
ClickHouse) is opened through its lifespan, and single-event POSTs are handed to it as ASGI
calls by 64 concurrent tasks on uvloop. It reports:

- Python function calls per request on the event loop's thread (cProfile, a separate pass;
  this driver's own few calls per request included, the same on both sides of a comparison):
  deterministic, so a change of a single call in the path shows;
- the event loop thread's CPU per request and the whole process's (the loader and ClickHouse
  included), without the profiler;
- the same driver against the bare app (bench/bare_app.py: parse, validate, answer), measured
  in the same run: the figures over it take out how fast the machine happened to be.

wrk against a socket (bench/intake.py) measures what a client sees, but on a 2-core machine
shared with ClickHouse's threads the same code against itself varies by about ±10 % between
runs (docs/PERFORMANCE.md); this measures the part that vitrina's code decides.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import pstats
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import uvloop

from bench.common import report

BODY = b'{"metric_name": "metric_1", "metric_value": 42.5}'
PATH = "/v1/streams/metrics"
CONFIG = '[writer]\nack = "wal"\n[models]\nenabled = false\n[alerts]\nenabled = false\n'
App = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]


def _scope() -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    return {"type": "http", "http_version": "1.1", "method": "POST", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
            "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2), "scheme": "http", "root_path": ""}  # fmt: skip


async def _post(app: App, statuses: dict[int, int]) -> None:
    """One request as uvicorn hands it over: the body in one message, then the answer."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1

    await app(_scope(), receive, send)


async def _drive(app: App, requests: int, tasks: int = 64) -> dict[int, int]:
    statuses: dict[int, int] = {}

    async def worker(n: int) -> None:
        for _ in range(n):
            await _post(app, statuses)

    await asyncio.gather(*(worker(requests // tasks) for _ in range(tasks)))
    return statuses


async def _measure(app: App, requests: int) -> dict[str, float]:
    await _drive(app, 5_000)  # warm-up: caches, the loader's first inserts
    wall, loop_cpu, usage = time.perf_counter(), time.thread_time(), resource.getrusage(resource.RUSAGE_SELF)
    statuses = await _drive(app, requests)
    wall, loop_cpu = time.perf_counter() - wall, time.thread_time() - loop_cpu
    after = resource.getrusage(resource.RUSAGE_SELF)
    process_cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    done = sum(statuses.values())
    if set(statuses) != {200}:
        raise SystemExit(f"answers other than 200: {statuses}")
    profile = cProfile.Profile()
    profile.enable()
    profiled = sum((await _drive(app, 10_000)).values())  # 64 tasks: 9,984 requests
    profile.disable()
    calls = sum(s[1] for s in pstats.Stats(profile).stats.values())  # type: ignore[attr-defined]
    return {"loop_us": 1e6 * loop_cpu / done, "process_us": 1e6 * process_cpu / done, "wall_us": 1e6 * wall / done,
            "calls": calls / profiled}  # fmt: skip


class Lifespan:
    """The app's lifespan driven as uvicorn drives it: startup before the requests, shutdown after."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        await self.inbox.put({"type": "lifespan.startup"})
        self.task = asyncio.get_running_loop().create_task(self.app({"type": "lifespan"}, self.inbox.get, self.outbox.put))
        answer = await self.outbox.get()
        if answer["type"] != "lifespan.startup.complete":
            raise SystemExit(f"vitrina did not start: {answer}")

    async def __aexit__(self, *exc: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        assert self.task is not None
        await self.task


async def _vitrina(folder: Path, requests: int) -> dict[str, float]:
    from vitrina.config import load_settings
    from vitrina.serve.app import VitrinaApp

    config = folder / "bench.toml"
    config.write_text(CONFIG)
    app: App = VitrinaApp(dataclasses.replace(load_settings(config), data_dir=folder / "data"))
    async with Lifespan(app):
        return await _measure(app, requests)


async def _bare(requests: int) -> dict[str, float]:
    from bench.bare_app import app

    return await _measure(app, requests)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=50_000)
    ap.add_argument("--pairs", type=int, default=3, help="bare, vitrina pairs; the medians are reported")
    opts = ap.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"vitrina": [], "bare": []}
    for _ in range(opts.pairs):
        runs["bare"].append(uvloop.run(_bare(opts.requests)))
        with tempfile.TemporaryDirectory(prefix="vitrina-hotpath-") as tmp:
            runs["vitrina"].append(uvloop.run(_vitrina(Path(tmp), opts.requests)))
    med = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for side, rs in runs.items()}
    v, b = med["vitrina"], med["bare"]
    report(
        "hotpath",
        [
            ("vitrina: Python calls per request", f"{v['calls']:.1f}   (bare app {b['calls']:.1f})"),
            ("vitrina: event-loop CPU per request", f"{v['loop_us']:.1f} us   (bare app {b['loop_us']:.1f} us)"),
            ("vitrina: process CPU per request", f"{v['process_us']:.1f} us   (bare app {b['process_us']:.1f} us)"),
            ("event-loop CPU over the bare app's", f"{v['loop_us'] / b['loop_us']:.2f}x"),
        ],
        {"vitrina": v, "bare": b, "runs": runs, "requests": opts.requests},
    )


if __name__ == "__main__":
    main()
