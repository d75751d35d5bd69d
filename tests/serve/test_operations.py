"""Health, readiness, Prometheus metrics and the OpenAPI docs of a running server, and a second
`vitrina up` that must leave a running one alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, VitrinaProcess, cli, free_port


def _samples(v: VitrinaProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{v.url}/metrics").text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_health_and_readiness(vitrina: VitrinaProcess) -> None:
    assert httpx.get(f"{vitrina.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{vitrina.url}/readyz").json() == {"status": "ready"}


def test_metrics_count_what_happened(vitrina: VitrinaProcess) -> None:
    before = _samples(vitrina)
    assert (
        vitrina.post("/v1/streams/probes", [{"location": "m", "target": "t", "status_code": 200, "response_time_ms": 1}] * 7).status_code
        == 200
    )
    assert vitrina.post("/v1/streams/probes", [{"location": "m"}] * 2).status_code == 422
    after = _samples(vitrina)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("vitrina_accepted_events_total", stream="probes") == 7
    assert delta("vitrina_rejected_events_total", stream="probes") == 2
    assert delta("vitrina_intake_requests_total", status="200") == 1
    assert delta("vitrina_intake_requests_total", status="422") == 1
    assert delta("vitrina_insert_batch_rows_sum", table="probes") == 7
    assert delta("vitrina_insert_seconds_count", table="probes") >= 1
    assert ("vitrina_writer_pending_rows", ()) in after


def test_openapi_documents_every_stream(vitrina: VitrinaProcess) -> None:
    spec = httpx.get(f"{vitrina.url}/openapi.json").json()
    for stream in ("metrics", "uploads", "quotes", "site_events", "store_events", "probes"):
        op = spec["paths"][f"/v1/streams/{stream}"]["post"]
        assert {"200", "400", "413", "415", "422", "503"} <= set(op["responses"])
        assert f"{stream}_event" in spec["components"]["schemas"]
    schema = spec["components"]["schemas"]["site_events_event"]
    assert {"dt", "name", "user_id", "url", "obj"} <= set(schema["required"])
    assert "/upload/metrics/" in spec["paths"] and "/events/" in spec["paths"] and "/v1/sql" in spec["paths"]
    docs = httpx.get(f"{vitrina.url}/docs")
    assert docs.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert httpx.get(f"{vitrina.url}/static/swagger/swagger-ui-bundle.js").status_code == 200  # offline: no CDN


def _up(data_dir: Path, port: int) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    cmd = [sys.executable, "-m", "vitrina", "up", "--port", str(port), "--data-dir", str(data_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    return done, time.monotonic() - started


def test_a_second_vitrina_up_touches_nothing_of_the_running_one(make_vitrina: Any, tmp_folder: Path) -> None:
    v = make_vitrina("[models]\nenabled = false\n[alerts]\nenabled = false\n")
    assert v.proc is not None
    info = v.data_dir / "server.json"
    announced = info.read_text()
    assert v.post("/v1/streams/metrics", {"metric_name": "first", "metric_value": 1}).status_code == 200
    for port, says in ((v.port, f"cannot listen on 127.0.0.1:{v.port}"), (free_port(), "another vitrina runs on")):
        second, seconds = _up(v.data_dir, port)
        assert second.returncode != 0
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], second.stderr  # one line, naming the running server
        assert f"{v.url} (pid {v.proc.pid})" in lines[0], lines
        assert "migration" not in second.stdout + second.stderr
        print(f"second vitrina up on the same folder, port {port}: refused in {seconds:.2f} s")
        # the running server's file is untouched, it still answers, and the CLI still finds it
        assert info.read_text() == announced
        assert httpx.get(f"{v.url}/readyz").json() == {"status": "ready"}
        flushed = cli("flush", "--data-dir", str(v.data_dir))  # no offline path: only via server.json
        assert flushed.returncode == 0, flushed.stderr
        counted = cli(
            "sql", "SELECT count() AS n FROM vitrina.metrics WHERE metric_name = 'first'", "--data-dir", str(v.data_dir), "--format", "json"
        )
        assert counted.returncode == 0 and json.loads(counted.stdout)["data"] == [{"n": 1}], counted.stderr


def test_a_busy_port_is_refused_before_the_data_folder_is_touched(make_vitrina: Any, tmp_folder: Path) -> None:
    v = make_vitrina("[models]\nenabled = false\n[alerts]\nenabled = false\n")
    other = tmp_folder / "other-data"
    second, seconds = _up(other, v.port)
    assert second.returncode != 0
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{v.port}: Address already in use" in lines[0], second.stderr
    assert not other.exists()  # no folder, no chdb, no migrations
    print(f"vitrina up on a busy port: refused in {seconds:.2f} s")
    assert httpx.get(f"{v.url}/readyz").status_code == 200
