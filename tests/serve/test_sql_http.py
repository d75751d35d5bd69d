"""`/v1/sql` on a real `vitrina up`: answers of every type, JSON errors for what is refused,
another site's page refused, and several queries at once up to `[sql] concurrency`."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import VitrinaProcess


def test_any_column_type_is_answered(vitrina: VitrinaProcess) -> None:
    query = (
        "SELECT toIPv6('::1') AS ip6, toIPv4('1.2.3.4') AS ip4, toUInt256(3) * toUInt256('18446744073709551616') AS big,"
        " map('k', [1, 2]) AS m, toDecimal32(2.5, 1) AS d, CAST(NULL, 'Nullable(String)') AS n, 'bad \\xFF utf8' AS s"
    )
    for resp in (httpx.get(f"{vitrina.url}/v1/sql", params={"query": query}), httpx.post(f"{vitrina.url}/v1/sql", json={"query": query})):
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"] == [
            {"ip6": "::1", "ip4": "1.2.3.4", "big": 3 * 2**64, "m": {"k": [1, 2]}, "d": 2.5, "n": None, "s": "bad \ufffd utf8"}
        ]


def test_refusals_are_json_errors(vitrina: VitrinaProcess) -> None:
    cases = [
        ("SELECT 1; SELECT 2", 400, "syntax_error"),
        ("SELECT 'x' INTO OUTFILE '/tmp/vitrina-http-x'", 403, "not_allowed"),
        ("KILL QUERY WHERE 1", 403, "not_allowed"),
        ("SELECT * FROM nope", 400, "query_failed"),
        ("", 400, "empty_query"),
    ]
    for query, status, error in cases:
        for resp in (
            httpx.get(f"{vitrina.url}/v1/sql", params={"query": query}),
            httpx.post(f"{vitrina.url}/v1/sql", content=query.encode()),
            httpx.post(f"{vitrina.url}/v1/sql", json={"query": query}),
        ):
            assert resp.status_code == status, (query, resp.text)
            assert resp.headers["content-type"] == "application/json" and resp.json()["error"] == error, resp.text
    bad = httpx.post(f"{vitrina.url}/v1/sql", json={"query": 1})
    assert bad.status_code == 400 and bad.json()["error"] == "malformed_body"


def test_another_sites_page_is_refused(vitrina: VitrinaProcess) -> None:
    """What a browser sends when a page of another site makes it call vitrina (an <img>, a
    form post, fetch in no-cors mode): refused before the query is even read."""
    get, post = f"{vitrina.url}/v1/sql", f"{vitrina.url}/v1/sql"
    q = {"query": "SELECT 1"}
    cross = [
        httpx.get(get, params=q, headers={"sec-fetch-site": "cross-site"}),
        httpx.get(get, params=q, headers={"sec-fetch-site": "same-site"}),
        httpx.post(post, content=b"SELECT 1", headers={"origin": "https://evil.example", "content-type": "text/plain"}),
        httpx.post(post, content=b"SELECT 1", headers={"origin": "null"}),
    ]
    for resp in cross:
        assert resp.status_code == 403 and resp.json()["error"] == "cross_site", resp.text
    host = vitrina.url.removeprefix("http://")
    own = [
        httpx.get(get, params=q, headers={"sec-fetch-site": "same-origin"}),
        httpx.get(get, params=q, headers={"sec-fetch-site": "none"}),  # typed into the address bar
        httpx.post(post, content=b"SELECT 1", headers={"origin": f"http://{host}", "sec-fetch-site": "same-origin"}),
    ]
    for resp in own:
        assert resp.status_code == 200, resp.text


def test_queries_run_at_once_up_to_the_concurrency(make_vitrina: Any) -> None:
    """Twelve one-second queries on four sessions end within a few seconds, not twelve (one
    lock made the 45th of 45 three-second queries wait 134 s)."""
    v = make_vitrina("[sql]\nconcurrency = 4\n")

    def one(_: int) -> tuple[int, float]:
        started = time.monotonic()
        resp = httpx.get(f"{v.url}/v1/sql", params={"query": "SELECT sleep(1)"}, timeout=60)
        return resp.status_code, time.monotonic() - started

    began = time.monotonic()
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(one, range(12)))
    took = time.monotonic() - began
    assert [s for s, _ in answers] == [200] * 12
    assert took < 6, f"12 queries of 1 s on 4 sessions took {took:.1f} s"


def test_beyond_the_concurrency_a_query_waits_then_gets_503(make_vitrina: Any) -> None:
    v = make_vitrina("[sql]\nconcurrency = 1\nqueue_timeout_s = 0.5\n")

    def one(_: int) -> httpx.Response:
        return httpx.get(f"{v.url}/v1/sql", params={"query": "SELECT sleep(2)"}, timeout=60)

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(one, range(3)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 503, 503], [r.text for r in answers]
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.headers["retry-after"] == "1" and busy.json()["error"] == "busy"
    assert httpx.get(f"{v.url}/healthz").status_code == 200
    assert httpx.get(f"{v.url}/v1/sql", params={"query": "SELECT 1"}).status_code == 200  # the session is free again
