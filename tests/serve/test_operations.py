"""Health, readiness, Prometheus metrics and the OpenAPI docs of a running server."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import VitrinaProcess


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
