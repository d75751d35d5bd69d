"""Fuzz the OpenAPI document against a real `vitrina up` with schemathesis (all its checks:
no 5xx, every status and content type documented, every body valid against its schema, ...),
and count what came back. Used by tests/serve/test_fuzz.py (CI) and scripts/fuzz (longer):

    .venv/bin/python -m tests.serve.fuzz --requests 20000

The server runs on a temporary data folder, removed afterwards: generated rows are not kept.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, VitrinaProcess

CONFIG = Path(__file__).with_name("schemathesis.toml")
SERVER_CONFIG = "[models]\nenabled = false\n[alerts]\nenabled = false\n"  # the scheduled loops: the fuzzer drives them by hand


@dataclass
class FuzzResult:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    not_json_errors: list[str] = field(default_factory=list)  # 4xx/5xx answers whose body is not a JSON error
    schemathesis_exit: int = 0
    failures: list[str] = field(default_factory=list)  # schemathesis's summary lines

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.by_status.items() if status >= 500)

    def summary(self) -> str:
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.by_status.items()))
        lines = [f"requests: {self.requests}", f"by status: {statuses}", f"5xx: {self.server_errors}"]
        lines.append(f"error bodies that are not JSON errors: {len(self.not_json_errors)}")
        lines.append(f"schemathesis failures: {len(self.failures)}" + "".join(f"\n  {f}" for f in self.failures))
        return "\n".join(lines)


def _is_json_error(entry: dict[str, Any]) -> bool:
    content = entry["response"]["content"]
    if not content.get("mimeType", "").startswith("application/json"):
        return False
    try:
        body = json.loads(content.get("text") or "")
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("message"), str)


def _count(har: Path, result: FuzzResult) -> None:
    for entry in json.loads(har.read_text())["log"]["entries"]:
        status = int(entry["response"]["status"])
        result.requests += 1
        result.by_status[status] += 1
        if status >= 400 and not _is_json_error(entry):
            result.not_json_errors.append(f"{entry['request']['method']} {entry['request']['url']} -> {status}")


def _failure_lines(output: str) -> list[str]:
    """The 'Failures:' block of schemathesis's summary, one line per kind of failure."""
    lines = output.splitlines()
    if "Failures:" not in lines:
        return []
    block = lines[lines.index("Failures:") + 1 :]
    return [ln.strip() for ln in block[: next((i for i, ln in enumerate(block) if not ln.strip()), len(block))]]


def _run_once(url: str, per_operation: int, workdir: Path, seed: int, result: FuzzResult) -> None:
    har = workdir / f"fuzz-{seed}.har"
    cmd = [
        *(str(Path(sys.executable).with_name("st")), "--config-file", str(CONFIG), "--no-color", "run", f"{url}/openapi.json"),
        *("--checks", "all", "--max-examples", str(per_operation)),
        *("--seed", str(seed), "--generation-database", "none", "--workers", "2"),
        *("--report", "har", "--report-har-path", str(har), "--request-timeout", "60"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=3600)
    with (workdir / "schemathesis.txt").open("a") as out:
        out.write(proc.stdout + proc.stderr)
    if not har.exists():
        raise AssertionError(f"schemathesis made no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    _count(har, result)
    har.unlink()
    failures = _failure_lines(proc.stdout)
    if proc.returncode != 0 and not failures:
        failures = [f"schemathesis exited {proc.returncode}: {(proc.stdout + proc.stderr)[-2000:]}"]
    result.failures += [f"seed {seed}: {f}" for f in failures]
    result.schemathesis_exit = result.schemathesis_exit or proc.returncode


def fuzz(url: str, requests: int, workdir: Path, seed: int = 1) -> FuzzResult:
    """Run schemathesis against a server, a new seed each round, until at least `requests`
    requests were made (each round generates up to N cases per operation and phase; past a
    few thousand requests a round adds fewer, as hypothesis runs out of new cases)."""
    operations = sum(len(ops) for ops in httpx.get(f"{url}/openapi.json", timeout=30).json()["paths"].values())
    per_operation = max(1, math.ceil(min(requests, 4000) / operations / 5))  # about 5 requests per case, measured
    result = FuzzResult()
    for round_seed in range(seed, seed + 50):
        _run_once(url, per_operation, workdir, round_seed, result)
        if result.requests >= requests:
            break
    return result


def fuzz_fresh_server(requests: int, seed: int = 1) -> tuple[FuzzResult, str]:
    """A `vitrina up` on a temporary folder, fuzzed, stopped and removed; the result and the
    schemathesis output (for a failing test's message)."""
    folder = Path(tempfile.mkdtemp(prefix="vitrina-fuzz-"))
    try:
        config = folder / "vitrina.toml"
        config.write_text(SERVER_CONFIG)
        server = VitrinaProcess(folder / "data", config).start()
        try:
            result = fuzz(server.url, requests, folder, seed)
        finally:
            server.stop()
        return result, (folder / "schemathesis.txt").read_text()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result, output = fuzz_fresh_server(args.requests, args.seed)
    if result.failures:
        print(output[output.find("FAILURES") :][:20_000])
    print(result.summary())
    ok = not result.failures and not result.server_errors and not result.not_json_errors and result.requests >= args.requests
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
