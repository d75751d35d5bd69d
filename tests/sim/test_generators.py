"""The simulators: every event passes vitrina's own validation, the seeds' distributions hold,
and the load sender paces and counts correctly against a real local HTTP server."""

from __future__ import annotations

import asyncio
import io
import random
import re
import socket
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import uvicorn
from rich.console import Console

from vitrina.intake.validate import StreamValidator
from vitrina.sim import generators as g
from vitrina.sim.runner import Summary, auto_batch, run_with_progress, simulate
from vitrina.streams.builtin import BUILTIN

STREAMS = {s.name: s for s in BUILTIN}
NOW = 1_750_000_000.0


def events(stream: str, n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng, make = random.Random(seed), g.generator(stream)
    return [make(rng, NOW + i * 0.01) for i in range(n)]


# -- every stream --------------------------------------------------------------------------


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_events_validate(stream: str) -> None:
    validator = StreamValidator(STREAMS[stream])
    declared = {f.name for f in STREAMS[stream].fields}
    required = {f.name for f in STREAMS[stream].fields if f.required}
    for event in events(stream, 400):
        assert required <= set(event) <= declared
        checked = validator.check_json(msgspec.json.encode(event), time.time_ns())
        assert checked.count == 1 and not checked.problems, (event, checked.problems)


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_spoiled_events_are_refused(stream: str) -> None:
    validator, rng = StreamValidator(STREAMS[stream]), random.Random(3)
    for event in events(stream, 100):
        checked = validator.check_json(msgspec.json.encode(g.spoil(stream, event, rng)), time.time_ns())
        assert checked.count == 0 and len(checked.problems) == 1


def test_same_seed_same_events() -> None:
    for stream in STREAMS:
        assert events(stream, 50, seed=11) == events(stream, 50, seed=11)


def test_unknown_stream_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="metrics"):
        g.make_event("nope", random.Random(), NOW)
    assert set(g.GENERATORS) == set(STREAMS)
    assert g.make_event("probes", random.Random(), NOW)["time"].endswith("Z")


# -- per stream ------------------------------------------------------------------------------


def test_metrics_values() -> None:
    evs = events("metrics", 2000)
    assert {e["metric_name"] for e in evs} == {f"metric_{i}" for i in range(1, 11)}
    assert all(10.5 <= e["metric_value"] <= 100.5 for e in evs)
    assert 0.2 < sum("tags" in e for e in evs) / len(evs) < 0.4


def test_upload_distributions() -> None:
    evs = events("uploads", 30_000)
    attempt: Counter[int] = Counter()
    by_attempt: dict[int, list[bool]] = defaultdict(list)
    for e in evs:
        attempt[e["item_id"]] += 1  # an item's events come in attempt order
        by_attempt[min(attempt[e["item_id"]], 3)].append(e["is_created"] == 1)
        assert 1_000_000_000 <= e["item_id"] <= 9_990_000_000
        assert 1000 <= e["company_id"] <= 9999 and 1 <= e["category_id"] <= 500 and 1 <= e["origin_id"] <= 100
        assert e["origin"] in g.ORIGINS and e["country"] in ("CN", "US", "RU", "DE", None)
        assert isinstance(e["ts_ns"], int) and e["ts_ns"] == int(e["ts_ns"])
        assert isinstance(e["attempt_id"], str) and isinstance(e["request_id"], str)
        if e["is_created"]:
            assert e["event"] == "SAVE"
            assert 5_000_000_000 <= e["up_ts"] - e["ts_ns"] <= 25_000_000_000
        else:
            assert e["event"] in ("UPDATE", "ERROR") and e["up_ts"] == 0
    for n, expected in ((1, 0.05), (2, 0.4), (3, 0.8)):
        share = statistics.fmean(by_attempt[n])
        assert abs(share - expected) < 0.03, (n, share, len(by_attempt[n]))
    failed = [e for e in evs if not e["is_created"]]
    assert abs(sum(e["event"] == "ERROR" for e in failed) / len(failed) - 0.3) < 0.03


def test_upload_media() -> None:
    evs = events("uploads", 10_000)
    with_media = [e for e in evs if "url_by_media" in e]
    assert abs(len(with_media) / len(evs) - 0.5) < 0.03
    hosts: Counter[str] = Counter()
    for e in with_media:
        urls = e["url_by_media"]
        assert len(urls) <= 5 and sum(e["media"].values()) == len(urls)
        for key in urls:
            assert re.match(r"^(jpg|png|webp):(https?)://", key), key
            url = key.split(":", 1)[1]
            hosts["ours" if url.startswith("https://cdn.host/") else "bad" if url.startswith(g._BAD) else "external"] += 1
    total = sum(hosts.values())
    for kind, share in g.MEDIA_HOSTS.items():
        assert abs(hosts[kind] / total - share) < 0.03, hosts


def test_quote_levels() -> None:
    for e in events("quotes", 300):
        assert isinstance(e["timestamp"], float)
        for i in g.LEVELS:
            for side in ("bid", "ask"):
                v = e[f"{side}_{i}"]
                assert 1 <= v <= 10 * i and round(v, 1) == v
        assert e["stats"] == pytest.approx(
            [statistics.fmean(e[f"bid_{i}"] for i in g.LEVELS), statistics.fmean(e[f"ask_{i}"] for i in g.LEVELS)]
        )


def test_site_navigation() -> None:
    for page, row in g.TRANSITIONS.items():
        assert page in g.PAGES and set(row) <= {*g.PAGES, g.EXIT} and sum(row.values()) == pytest.approx(1)
    assert set(g.TRANSITIONS) == set(g.PAGES)
    evs = events("site_events", 40_000)
    urls = {g.SHOP + p for p in g.PAGES}
    buttons: Counter[str] = Counter()
    views: Counter[int] = Counter()
    adds: Counter[int] = Counter()
    for e in evs:
        assert e["url"] in urls and e["name"] in ("view", "click") and e["obj"] in ("page", "url", "button")
        if e["obj"] == "button":
            buttons[e["obj_id"]] += 1
        if e["obj_id"] == "add_to_cart":
            assert e["amount"] == g.PRODUCTS[e["product_id"]][0]
            adds[e["product_id"]] += 1
        elif e["obj_id"] == "checkout":
            assert e["amount"] > 0
        else:
            assert e["amount"] == 0
        if e["name"] == "view" and e["product_id"]:
            views[e["product_id"]] += 1
    assert set(buttons) == {"add_to_cart", "checkout", "register"}
    for product, (_, p_add) in g.PRODUCTS.items():
        assert abs(adds[product] / views[product] - p_add) < 0.03, (product, adds[product], views[product])


def test_diurnal_peak() -> None:
    hours = [h / 4 for h in range(96)]
    weights = [g.diurnal_weight(h) for h in hours]
    assert hours[weights.index(max(weights))] == 7.0
    assert max(weights) == pytest.approx(1.0) and min(weights) > 0


def test_store_events() -> None:
    evs = events("store_events", 10_000)
    types = Counter(e["type"] for e in evs)
    assert types.most_common(1)[0][0] == "view" and types["view"] / len(evs) > 0.75 and set(types) == set(g.TYPES)
    assert {e["datacenter"] for e in evs} == {"eu", "usa", "asia"}
    uuid4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    for e in evs:
        assert e["price"] > 0 and uuid4.match(e["user_session"])
        assert e["category_code"] is None or re.match(r"^[a-z_]+(\.[a-z_]+)+$", e["category_code"])


def test_probes() -> None:
    evs = events("probes", 5000)
    codes = Counter(e["status_code"] for e in evs)
    assert codes[200] / len(evs) > 0.9 and {0, 500, 503} <= set(codes)
    assert all(e["response_time_ms"] == g.TIMEOUT_MS for e in evs if e["status_code"] == 0)
    by_location = defaultdict(list)
    for e in evs:
        by_location[e["location"]].append(e["response_time_ms"])
    assert statistics.median(by_location["asia-south"]) > 2 * statistics.median(by_location["eu-west"])


# -- the load sender ----------------------------------------------------------------------


class _Intake:
    """A minimal intake: validates with vitrina's validator and answers like /v1/streams/."""

    def __init__(self) -> None:
        self.validators = {s.name: StreamValidator(s) for s in BUILTIN}
        self.received = 0
        self.delay_s = 0.0  # a slow server, for a sender that falls behind

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await asyncio.sleep(self.delay_s)
        checked = self.validators[scope["path"].rsplit("/", 1)[-1]].check_json(body, time.time_ns())
        self.received += checked.total
        problems = [p.as_dict() for p in checked.problems]
        answer: dict[str, Any]
        if checked.count == 0 and problems:
            status, answer = 422, {"error": "invalid_items", "detail": problems}
        else:
            status, answer = 200, {"accepted": checked.count, "rejected": problems}
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": msgspec.json.encode(answer)})


def _wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def intake() -> Iterator[tuple[str, _Intake]]:
    app = _Intake()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _wait_for(lambda: server.started)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    server.should_exit = True
    thread.join(10)
    sock.close()
    assert not thread.is_alive()


def test_auto_batch() -> None:
    assert auto_batch(10) == 1 and auto_batch(200) == 1 and auto_batch(201) == 2 and auto_batch(10_000) == 50


def test_runner_paces_and_counts(intake: tuple[str, _Intake]) -> None:
    url, app = intake
    before = app.received
    ticks: list[int] = []
    s = asyncio.run(simulate(url, ["metrics"], 400, 1.5, seed=1, progress=lambda s: ticks.append(s.sent)))
    # Every due event is sent or, when the sender fell over a second behind (a starved
    # machine), counted as dropped: it never bursts to catch up.
    assert s.sent + s.behind == 600 and s.requests * 2 == s.sent  # 400/s needs batches of 2 to stay at 200 requests/s
    assert s.accepted == s.sent and s.rejected == 0 and s.failed == 0 and not s.errors
    assert s.status == Counter({200: s.requests}) and len(s.latencies) == s.requests
    assert app.received - before == s.sent
    assert s.elapsed > 1.45 and s.rate < 420
    assert 0 < s.p50 <= s.p99 and len(ticks) >= 5 and ticks == sorted(ticks)
    assert s.table().row_count >= 11


def test_runner_behind_schedule_drops_and_counts(intake: tuple[str, _Intake]) -> None:
    url, app = intake
    app.delay_s = 1.2  # one request in flight at a time: the schedule runs away from the sender
    try:
        s = asyncio.run(simulate(url, ["metrics"], 10, 3.0, batch=1, seed=1, concurrency=1))
    finally:
        app.delay_s = 0.0
    assert s.behind > 0 and s.sent + s.behind == 30
    assert s.accepted == s.sent and s.rate < 10


def test_runner_rejections_and_streams(intake: tuple[str, _Intake]) -> None:
    url, _ = intake
    s = asyncio.run(simulate(url, ["uploads", "site_events"], 200, 1.0, batch=4, seed=2, bad_fraction=0.2))
    assert s.sent == 200 and s.per_stream == Counter({"uploads": 100, "site_events": 100})
    assert s.accepted + s.rejected == s.sent and s.failed == 0
    assert s.rejected == s.invalid_sent and 15 < s.invalid_sent < 70


def test_runner_single_events_refused_with_422(intake: tuple[str, _Intake]) -> None:
    url, _ = intake
    s = asyncio.run(simulate(url, ["probes"], 40, 0.5, seed=4, bad_fraction=1.0))
    assert s.sent == 20 and s.rejected == 20 and s.status == Counter({422: 20})


def test_runner_stops_on_request(intake: tuple[str, _Intake]) -> None:
    url, _ = intake

    async def run() -> Summary:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        return await simulate(url, ["quotes", "store_events"], 100, None, stop=stop)

    s = asyncio.run(run())
    # It returned (no duration: only the stop ends it), soon after the stop, with everything it
    # sent answered. How much it sent in 0.5 s depends on how fast a busy server answers, so
    # only the schedule's ceiling is checked here; the pacing has tests of its own above.
    assert s.elapsed < 10 and 0 < s.sent <= 70 and s.accepted == s.sent


def test_runner_survives_connection_errors() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = asyncio.run(simulate(f"http://127.0.0.1:{port}", ["probes"], 20, 0.5))
    assert s.sent == 10 and s.failed == 10 and s.accepted == 0 and s.errors["ConnectError"] == 10


def test_run_with_progress(intake: tuple[str, _Intake]) -> None:
    url, _ = intake
    out = io.StringIO()
    s = run_with_progress(url, ["site_events"], 50, 0.5, seed=5, console=Console(file=out, width=160))
    assert s.sent == 25 and s.accepted == 25
    assert "sent" in out.getvalue()


def test_runner_refuses_unknown_streams() -> None:
    with pytest.raises(KeyError, match="site_events"):
        asyncio.run(simulate("http://127.0.0.1:9", ["nope"], 10, 0.1))
