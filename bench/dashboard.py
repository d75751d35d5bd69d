"""The uploads dashboard (12 panels: rollup time series and stats, raw-table top-N, histogram
and segments) over 50M raw upload rows: its panel queries, and a full page render in Chromium.

    .venv/bin/python -m bench.dashboard [--rows 50000000] [--range 1h]

Rows are spread over the last 7 days like bench/rollup_query.py, written into a data folder
that `vitrina up` then serves; the render time is from navigation start until every panel of
the page is drawn, measured in the page (performance.now()).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import ARGS, CHROMIUM

from bench.common import free_port, report, server
from bench.rollup_query import FILL
from vitrina.streams.builtin import BUILTIN
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate


def fill(data_dir: Path, rows: int) -> float:
    wh = Warehouse(parse_dsn(f"chdb://{data_dir / 'clickhouse'}"))
    try:
        migrate(wh, BUILTIN)
        now = datetime.now(UTC).replace(microsecond=0)
        end_ns, span_ns = int(now.timestamp() * 1e9), 7 * 86400 * 10**9
        started = time.perf_counter()
        chunk = 5_000_000
        for offset in range(0, rows, chunk):
            wh.command(FILL, parameters={"end_ns": end_ns, "span_ns": span_ns, "offset": offset, "count": min(chunk, rows - offset)})
        wh.command("OPTIMIZE TABLE vitrina.uploads_1s FINAL")  # as background merges would, given time
        wh.command("OPTIMIZE TABLE vitrina.uploads_1m FINAL")
        return time.perf_counter() - started
    finally:
        wh.close()


def sql(url: str, query: str) -> dict[str, Any]:
    return dict(httpx.post(f"{url}/v1/sql", content=query.encode(), timeout=60).json()["data"][0])


def wait_for_merges(url: str, limit_s: float = 600) -> float:
    """Measure the steady state: background merges after a 50M-row fill would otherwise share
    the two cores with the queries measured."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if sql(url, "SELECT count() AS n FROM system.merges")["n"] == 0:
            break
        time.sleep(1)
    return time.monotonic() - started


# Where a render's time goes: scripts parsed (plotly.js is most of it), data in, panels drawn.
PHASES = """(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const mark = (n) => performance.getEntriesByName(n).map((e) => e.startTime).pop();
  const req = performance.getEntriesByType('resource').filter((e) => e.name.includes('/data?')).pop();
  return {scripts: nav.domContentLoadedEventEnd, request_sent: req.requestStart, response_in: req.responseEnd,
          data: mark('vitrina:data'), drawn: mark('vitrina:drawn')};
})()"""


def render_times(url: str, runs: int) -> tuple[float, list[float], int, dict[str, float]]:
    """Cold first render, then warm renders (plotly.js cached, as on a dashboard left open)."""
    from playwright.sync_api import sync_playwright

    times, phases = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        for _ in range(runs + 1):
            page.goto(url)
            page.wait_for_function("Number(document.body.dataset.loads || 0) >= 1", timeout=60_000)
            times.append(float(page.evaluate("performance.now()")))
            phases.append(page.evaluate(PHASES))
        panels = int(page.evaluate("document.querySelectorAll('#grid .panel').length"))
        browser.close()
    if errors:
        sys.exit(f"console errors: {errors}")
    warm = phases[1:]
    return times[0], times[1:], panels, {k: statistics.median(p[k] for p in warm) for k in warm[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--range", default="1h")
    parser.add_argument("--keep", type=Path, help="Keep the filled data folder here and reuse it on the next run.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="vitrina-bench-dashboard-"))
    try:
        fill_s = 0.0 if (folder / "data").exists() and args.keep else fill(folder / "data", args.rows)
        port = free_port()
        cmd = [sys.executable, "-m", "vitrina", "up", "--port", str(port), "--data-dir", str(folder / "data")]
        url = f"http://127.0.0.1:{port}"
        with server(cmd, f"{url}/readyz"):
            settle_s = wait_for_merges(url)
            stored = sql(url, "SELECT count() AS n FROM vitrina.uploads")["n"]
            parts = sql(url, "SELECT count() AS n FROM system.parts WHERE database = 'vitrina' AND table = 'uploads' AND active")["n"]
            data_url = f"{url}/v1/dashboards/uploads/data?range={args.range}"
            httpx.get(data_url, timeout=60)  # warm-up
            server_ms: list[float] = []
            round_ms: list[float] = []
            per_panel: dict[str, list[float]] = {}
            for _ in range(args.runs):
                started = time.perf_counter()
                body = httpx.get(data_url, timeout=60).json()
                round_ms.append((time.perf_counter() - started) * 1000)
                server_ms.append(body["ms"])
                for pid, res in body["panels"].items():
                    per_panel.setdefault(pid, []).append(res["ms"])
            cold, warm, panels, phase = render_times(f"{url}/d/uploads?range={args.range}&refresh=0", args.runs)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()[0]  # other work on the machine inflates every figure below
    slowest = sorted(((statistics.median(v), k) for k, v in per_panel.items()), reverse=True)[:3]
    rows = [
        ("raw upload rows", f"{stored:,} in {parts} parts (filled in {fill_s:.0f} s, merges settled {settle_s:.0f} s later)"),
        ("panels on the page", f"{panels} ({len(per_panel)} with queries), range {args.range}"),
        ("machine load (1 min average)", f"{load:.1f} on {os.cpu_count()} cores"),
        ("all panel queries, server", f"{statistics.median(server_ms):.0f} ms median of {args.runs}"),
        ("data request round trip", f"{statistics.median(round_ms):.0f} ms median"),
        ("slowest panels", ", ".join(f"{k} {ms:.0f} ms" for ms, k in slowest)),
        ("page render in chromium, first", f"{cold:.0f} ms (plotly.js 4.6 MB not cached yet)"),
        ("page render in chromium, warm", f"{statistics.median(warm):.0f} ms median of {len(warm)} (max {max(warm):.0f} ms)"),
        (
            "  of which (medians, from navigation)",
            f"scripts parsed {phase['scripts']:.0f} ms, data asked {phase['request_sent']:.0f} ms, answered {phase['response_in']:.0f} ms, "
            f"in the page {phase['data']:.0f} ms, drawn {phase['drawn']:.0f} ms",
        ),
    ]
    report(
        "dashboard",
        rows,
        {
            "stored": stored,
            "parts": parts,
            "load_average": load,
            "panels": panels,
            "range": args.range,
            "queries_ms": statistics.median(server_ms),
            "round_trip_ms": statistics.median(round_ms),
            "per_panel_ms": {k: statistics.median(v) for k, v in sorted(per_panel.items())},
            "render_cold_ms": cold,
            "render_warm_ms": statistics.median(warm),
            "render_warm_max_ms": max(warm),
            "render_phases_ms": phase,
        },
    )


if __name__ == "__main__":
    main()
