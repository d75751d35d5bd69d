"""Helpers shared by the benchmarks: start servers, run wrk and hey, print a table."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"{tool} is missing: apt-get install -y wrk hey (scripts/bench does it)")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)  # any answer means it is serving
            return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sys.exit(f"server at {url} not ready after {timeout}s")


@contextmanager
def server(cmd: list[str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(ready_url, proc)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def vitrina(config: str = "") -> Iterator[tuple[str, Path, int]]:
    folder = Path(tempfile.mkdtemp(prefix="vitrina-bench-"))
    port = free_port()
    cfg = folder / "bench.toml"
    cfg.write_text(config)
    cmd = [sys.executable, "-m", "vitrina", "up", "--port", str(port), "--data-dir", str(folder / "data"), "--config", str(cfg)]
    try:
        with server(cmd, f"http://127.0.0.1:{port}/readyz") as proc:
            yield f"http://127.0.0.1:{port}", folder, proc.pid
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def bare_app() -> Iterator[tuple[str, int]]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bare_app:app",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with server(cmd, f"http://127.0.0.1:{port}/") as proc:
        yield f"http://127.0.0.1:{port}", proc.pid


def wrk(url: str, body: bytes, connections: int, seconds: float) -> dict[str, float]:
    """Closed-loop maximum throughput (wrk, one thread: the other core serves)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\nwrk.headers["Content-Type"] = "application/json"\n')
    try:
        out = subprocess.run(
            [need("wrk"), "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "non2xx": float(non2xx.group(1)) if non2xx else 0.0, "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))}  # type: ignore[union-attr]


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def hey_constant(url: str, body: bytes, rate: int, seconds: float, workers: int = 250) -> dict[str, float]:
    """Open-loop-ish constant rate: `workers` each capped at rate/workers requests per second."""
    out = subprocess.run(
        [
            need("hey"),
            "-z",
            f"{seconds}s",
            "-c",
            str(workers),
            "-q",
            str(rate / workers),
            "-m",
            "POST",
            "-T",
            "application/json",
            "-d",
            body.decode(),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pct = {m.group(1): float(m.group(2)) * 1000 for m in re.finditer(r"(\d+)%% in ([\d.]+) secs".replace("%%", "%"), out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    ok = int(m.group(1)) if (m := re.search(r"\[200\]\s+(\d+) responses", out)) else 0
    return {"rps": rps, "p50_ms": pct.get("50", -1), "p99_ms": pct.get("99", -1), "ok": ok}


def report(name: str, rows: list[tuple[str, str]], data: dict[str, Any]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n== {name} ==")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, sort_keys=True))
