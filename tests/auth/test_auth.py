"""`[auth] enabled` on a real `vitrina up`: keys made with the CLI decide who may send which
stream, how fast, and who may read; a revoked key stops working while the server runs; the
dashboard takes a read key once in its URL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import cli, wait_until


def key(data_dir: Any, *args: str) -> str:
    done = cli("keys", "add", *args, "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_keys_decide_who_sends_what_and_who_reads(make_vitrina: Any) -> None:
    v = make_vitrina("[auth]\nenabled = true\n[models]\nenabled = false\n[alerts]\nenabled = false\n", start=False)
    shop = key(v.data_dir, "shop", "--stream", "metrics", "--stream", "uploads")
    analyst = key(v.data_dir, "analyst", "--read")
    slow = key(v.data_dir, "slow", "--stream", "metrics", "--rate", "5")
    v.start()
    v.headers = {"x-api-key": analyst}
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
