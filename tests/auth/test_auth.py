"""`[auth] enabled` on a real `vitrina up`: keys made with the CLI decide who may send which
stream, how fast, who may read and who may operate; every route has its scope; a revoked key
stops working while the server runs; the dashboard takes a read key once in its URL; rejected
items name the key that sent them; /metrics can need a key (and Prometheus sends it)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts.test_prometheus import binary
from tests.auth.helpers import AUTH, harness_key, key
from tests.conftest import cli, free_port, wait_until


def test_keys_decide_who_sends_what_and_who_reads(make_vitrina: Any) -> None:
    v = make_vitrina(AUTH, start=False)
    shop = key(v.data_dir, "shop", "--stream", "metrics", "--stream", "uploads")
    analyst = key(v.data_dir, "analyst", "--read")
    slow = key(v.data_dir, "slow", "--stream", "metrics", "--rate", "5")
    harness_key(v)
    v.start()
    url = f"{v.url}/v1/streams/metrics"

    def send(token: str | None, n: int = 1, stream_url: str = url) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.post(stream_url, json=[{"metric_name": "auth", "metric_value": 1}] * n, headers=headers, timeout=10)

    missing = send(None)
    assert missing.status_code == 401 and missing.json()["error"] == "missing_key"
    assert send("vk_nope").json()["error"] == "unknown_key"
    other = send(shop, stream_url=f"{v.url}/v1/streams/site_events")
    assert other.status_code == 403 and "may send metrics, uploads" in other.json()["message"]
    assert send(analyst).status_code == 403  # a reader may not send
    assert send(None, stream_url=f"{v.url}/v1/streams/nope").status_code == 401  # no stream names for strangers
    assert send(shop, stream_url=f"{v.url}/v1/streams/nope").status_code == 404
    assert send(shop, 3).status_code == 200

    # reading: a read key only; health, metrics and docs stay open
    assert httpx.post(f"{v.url}/v1/sql", content=b"SELECT 1").status_code == 401
    assert httpx.post(f"{v.url}/v1/sql", content=b"SELECT 1", headers={"x-api-key": shop}).json()["error"] == "read_not_allowed"
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert httpx.get(f"{v.url}{path}").status_code == 200, path
    assert v.scalar("SELECT count() FROM vitrina.metrics WHERE metric_name = 'auth'") == 3

    # the rate: 5 events/s, one second's worth in a burst, then 429 with Retry-After
    assert send(slow, 5).status_code == 200
    limited = send(slow, 5)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert v.scalar("SELECT count() FROM vitrina.metrics WHERE metric_name = 'auth'") == 8  # the 429's events are not stored

    # revoked while the server runs
    assert cli("keys", "revoke", "shop", "--data-dir", str(v.data_dir)).returncode == 0
    wait_until(lambda: send(shop).status_code == 401, 10, "the revoked key refused")
    listed = cli("keys", "list", "--data-dir", str(v.data_dir))
    assert "analyst" in listed.stdout and "shop" not in listed.stdout and analyst not in listed.stdout

    # the dashboard: the key once in the URL, then a cookie for the page's own requests
    with httpx.Client(base_url=v.url) as browser:
        assert browser.get("/").status_code == 401
        opened = browser.get("/", params={"key": analyst})
        assert opened.status_code == 303 and opened.headers["location"] == "/" and "HttpOnly" in opened.headers["set-cookie"]
        assert browser.get("/").status_code == 200
        assert browser.get("/v1/dashboards/overview/data").status_code == 200


# Every route of the API and what it needs. A route added without a scope needs a read key, and
# fails this test until it is listed here: each route is classified on purpose.
ROUTES: dict[tuple[str, str], tuple[str, str, dict[str, Any] | None]] = {
    # (method, path in the OpenAPI document): (scope, a URL to call it with, a JSON body)
    ("get", "/healthz"): ("open", "/healthz", None),
    ("get", "/readyz"): ("open", "/readyz", None),
    ("get", "/metrics"): ("open", "/metrics", None),
    ("post", "/v1/flush"): ("operate", "/v1/flush", None),
    ("post", "/v1/models/run"): ("operate", "/v1/models/run", {"names": ["uploads_minute"]}),
    ("post", "/v1/reports/run"): ("operate", "/v1/reports/run", {"period": "2026-01-05"}),
    ("post", "/v1/alerts/evaluate"): ("operate", "/v1/alerts/evaluate", {"dry_run": True}),
    ("get", "/v1/sql"): ("read", "/v1/sql?query=SELECT%201", None),
    ("post", "/v1/sql"): ("read", "/v1/sql", {"query": "SELECT 1"}),
    ("get", "/v1/streams"): ("read", "/v1/streams", None),
    ("get", "/v1/tail/{stream}"): ("read", "/v1/tail/metrics", None),
    ("get", "/v1/rollups/{stream}"): ("read", "/v1/rollups/metrics", None),
    ("get", "/v1/models"): ("read", "/v1/models", None),
    ("get", "/v1/alerts"): ("read", "/v1/alerts", None),
    ("get", "/v1/dashboards"): ("read", "/v1/dashboards", None),
    ("get", "/v1/dashboards/{name}/data"): ("read", "/v1/dashboards/overview/data?range=5m", None),
}
# Not in the OpenAPI document: pages, static files, the docs.
UNDOCUMENTED = [
    ("open", "/docs"),
    ("open", "/openapi.json"),
    ("open", "/static/swagger/swagger-ui.css"),
    ("open", "/dashboards/static/app.js"),
    ("read", "/"),
    ("read", "/d/overview"),
    ("read", "/explore"),
    ("read", "/tail"),
]
INTAKE = ("/v1/streams/", "/upload/metrics/", "/events/")


def test_every_route_needs_its_scope(make_vitrina: Any) -> None:
    v = make_vitrina(AUTH, start=False)
    tokens = {
        "reader": key(v.data_dir, "reader", "--read"),
        "operator": key(v.data_dir, "operator", "--operate"),
        "sender": key(v.data_dir, "sender", "--stream", "*"),
    }
    v.start()
    spec = httpx.get(f"{v.url}/openapi.json").json()
    declared = {}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method == "post" and path.startswith(INTAKE):
                assert "x-vitrina-scope" not in op, path  # intake: a key that may send the stream
                continue
            declared[(method, path)] = op.get("x-vitrina-scope", "read (undeclared)")
    assert declared == {route: scope for route, (scope, _, _) in ROUTES.items()}

    def call(method: str, url: str, body: dict[str, Any] | None, who: str | None) -> httpx.Response:
        headers = {"authorization": f"Bearer {tokens[who]}"} if who else {}
        return httpx.request(method, f"{v.url}{url}", json=body, headers=headers, timeout=120)

    calls = [(m, scope, url, body) for (m, _), (scope, url, body) in ROUTES.items()] + [("get", s, u, None) for s, u in UNDOCUMENTED]
    for method, scope, url, body in calls:
        answers = {who: call(method, url, body, who) for who in (None, "sender", "reader", "operator")}
        status = {who: r.status_code for who, r in answers.items()}
        where = f"{method.upper()} {url}: {status}"
        if scope == "open":
            assert all(s < 400 for s in status.values()), where
            continue
        allowed = "reader" if scope == "read" else "operator"
        assert status[None] == 401 and answers[None].json()["error"] == "missing_key", where
        for who in ("sender", "reader", "operator"):
            if who == allowed:
                assert status[who] < 400 or (url == "/v1/reports/run" and status[who] == 409), where  # 409: no model data yet
            else:
                assert status[who] == 403 and answers[who].json()["error"] == f"{scope}_not_allowed", where
    # a path no route serves: a stranger learns nothing, a reader gets the 404
    assert call("get", "/v1/nothing-here", None, None).status_code == 401
    assert call("get", "/v1/nothing-here", None, "reader").status_code == 404


@pytest.mark.parametrize("transport", ["direct", "redis", "kafka"])
def test_rejected_items_name_the_key_that_sent_them(make_vitrina: Any, tmp_folder: Path, transport: str) -> None:
    from tests.log.services import Redis, Tansu

    service: Any = None
    args: list[str] = []
    if transport == "redis":
        service = Redis(tmp_folder).start()
        args = ["--redis", service.url]
    elif transport == "kafka":
        service = Tansu(tmp_folder).start()
        args = ["--kafka", service.bootstrap]
    try:
        v = make_vitrina(AUTH, start=False, extra_args=args)
        shop = key(v.data_dir, "shop", "--stream", "metrics")
        harness_key(v)
        v.start()
        batch = [{"metric_name": "keyed", "metric_value": 1}, {"metric_name": "keyed", "metric_value": "high"}]
        answer = httpx.post(f"{v.url}/v1/streams/metrics", json=batch, headers={"x-api-key": shop}, timeout=30)
        assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text

        def kept() -> list[dict[str, Any]]:
            return v.sql("SELECT key, stream, position FROM vitrina.rejected WHERE raw LIKE '%keyed%'")

        assert wait_until(kept, 60, "the rejected item in ClickHouse") == [{"key": "shop", "stream": "metrics", "position": "1"}]
    finally:
        if service is not None:
            service.kill()


def test_metrics_can_need_a_read_key_and_prometheus_sends_it(make_vitrina: Any, tmp_folder: Path) -> None:
    v = make_vitrina(AUTH.replace("enabled = true\n", 'enabled = true\nmetrics = "read"\n', 1), start=False)
    reader = key(v.data_dir, "prometheus", "--read")
    sender = key(v.data_dir, "shop", "--stream", "*")
    v.start()
    assert httpx.get(f"{v.url}/metrics").status_code == 401
    assert httpx.get(f"{v.url}/metrics", headers={"authorization": f"Bearer {sender}"}).status_code == 403
    scraped = httpx.get(f"{v.url}/metrics", headers={"authorization": f"Bearer {reader}"})
    assert scraped.status_code == 200 and "vitrina_auth_keys 2.0" in scraped.text
    assert httpx.get(f"{v.url}/healthz").status_code == 200  # health stays open

    port = free_port()
    target = f"['127.0.0.1:{v.port}']"
    (tmp_folder / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: keyed\n    authorization:\n      credentials: {reader}\n    static_configs:\n      - targets: {target}\n"
        f"  - job_name: stranger\n    static_configs:\n      - targets: {target}\n"
    )
    log = open(tmp_folder / "prometheus.log", "wb")  # noqa: SIM115 - closed below
    prometheus = binary("prometheus", "prometheus")
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def targets() -> dict[str, str] | None:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {(tmp_folder / 'prometheus.log').read_text()[-2000:]}")
            active = httpx.get(f"http://127.0.0.1:{port}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
            health = {t["labels"]["job"]: t["health"] for t in active}
            return health if set(health.values()) <= {"up", "down"} and len(health) == 2 else None

        assert wait_until(targets, 45, "Prometheus to scrape both jobs") == {"keyed": "up", "stranger": "down"}

        def keys_gauge() -> Any:
            q = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": 'vitrina_auth_keys{job="keyed"}'}, timeout=2)
            return q.json()["data"]["result"]

        assert wait_until(keys_gauge, 30, "the keys gauge in Prometheus")[0]["value"][1] == "2"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
