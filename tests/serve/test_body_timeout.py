"""Request bodies have a read timeout: real sockets that send their headers and half a body
are answered 408 and closed within `[limits] body_timeout_s`, while others are served."""

from __future__ import annotations

import json
import selectors
import socket
import time
from typing import Any

import httpx

TIMEOUT_S = 2.0
HALF_SENT = 300
CONFIG = f"[limits]\nbody_timeout_s = {TIMEOUT_S}\n[models]\nenabled = false\n[alerts]\nenabled = false\n"


def _half_sent(port: int, path: str, chunked: bool) -> socket.socket:
    body = json.dumps({"metric_name": "slow", "metric_value": 1}).encode()
    framing = b"transfer-encoding: chunked\r\n" if chunked else b"content-length: %d\r\n" % (len(body) * 2)
    sock = socket.create_connection(("127.0.0.1", port))
    sent = body[: len(body) // 2]
    if chunked:
        sent = b"%x\r\n%s\r\n" % (len(sent), sent)
    sock.sendall(b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n%s\r\n%s" % (path.encode(), framing, sent))
    sock.setblocking(False)
    return sock


def _read_until_closed(socks: list[socket.socket], deadline: float) -> dict[socket.socket, bytes]:
    """What each socket received until the server closed it (or the deadline passed)."""
    got = {s: b"" for s in socks}
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    open_ = set(socks)
    while open_ and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            s: Any = key.fileobj
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                data = b""
            if data:
                got[s] += data
            else:
                sel.unregister(s)
                open_.discard(s)
    sel.close()
    assert not open_, f"{len(open_)} of {len(socks)} connections still open {TIMEOUT_S} s after their headers"
    return got


def test_half_sent_bodies_are_408_and_closed_while_others_are_served(make_vitrina: Any) -> None:
    v = make_vitrina(CONFIG)
    paths = ["/v1/streams/metrics", "/upload/metrics/", "/v1/sql"]
    started = time.monotonic()
    socks = [_half_sent(v.port, paths[i % len(paths)], chunked=i % 2 == 1) for i in range(HALF_SENT)]
    try:
        t0 = time.monotonic()
        ok = httpx.post(f"{v.url}/v1/streams/metrics", json={"metric_name": "fast", "metric_value": 1}, timeout=10)
        assert ok.status_code == 200 and time.monotonic() - t0 < 1.0, (ok.status_code, time.monotonic() - t0)
        got = _read_until_closed(socks, started + TIMEOUT_S + 5)
    finally:
        for s in socks:
            s.close()
    for answer in got.values():
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"content-type: application/json" in head.lower() and b"connection: close" in head.lower()
        assert json.loads(body)["error"] == "body_timeout"
    assert v.scalar("SELECT count() FROM vitrina.metrics WHERE metric_name = 'slow'") == 0


def test_a_slow_body_within_the_timeout_is_stored(make_vitrina: Any) -> None:
    v = make_vitrina(CONFIG)
    body = json.dumps({"metric_name": "slow-but-in-time", "metric_value": 1}).encode()

    def slowly() -> Any:
        yield body[:10]
        time.sleep(TIMEOUT_S / 4)  # the client is slow, within the limit
        yield body[10:]

    resp = httpx.post(f"{v.url}/v1/streams/metrics", content=slowly(), headers={"content-type": "application/json"}, timeout=10)
    assert resp.json() == {"accepted": 1, "rejected": []}
    assert v.scalar("SELECT count() FROM vitrina.metrics WHERE metric_name = 'slow-but-in-time'") == 1


def test_an_api_post_over_the_size_limit_is_413(make_vitrina: Any) -> None:
    """The API's POSTs read their body into memory: the same limit as intake holds for them."""
    v = make_vitrina("[limits]\nmax_body_bytes = 100000\n[models]\nenabled = false\n[alerts]\nenabled = false\n")

    def chunks() -> Any:
        for _ in range(20):
            yield b"SELECT 1 -- " + b"x" * 10_000 + b"\n"

    resp = httpx.post(f"{v.url}/v1/sql", content=chunks(), timeout=30)
    assert resp.status_code == 413 and resp.json()["error"] == "body_too_large", resp.text
    assert httpx.post(f"{v.url}/v1/sql", content=b"SELECT 1 AS one", timeout=30).json()["data"] == [{"one": 1}]
