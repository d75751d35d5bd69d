"""The multi-region store's producers write one plain Redis string key per event (a uuid4
name, SETNX of the JSON from a pandas row, EXPIRE 600), against a real redis-server:
`[transport.redis_keys]` loads each key exactly once across SIGKILLs, NaN cells as null, skips
keys of other types (vitrina's own streams), counts keys that expired before their move, and a
misconfigured key stops nothing else and shows on /readyz."""

from __future__ import annotations

import json
import math
import random
import uuid
from typing import Any

import httpx
import redis

from tests.conftest import wait_until
from tests.log.helpers import loaded_rows, produce, transport_config, wait_for
from tests.log.services import Redis, metric
from vitrina.config import TransportSettings
from vitrina.log.redis_keys import KeyMover

KEYS_CONFIG = transport_config() + '[transport.redis_keys]\n"*" = "store_events"\n'


def store_event(rng: random.Random, session: str) -> str:
    """A pandas row through json.dumps, as the store's producers send it: an empty
    category_code or brand is a float NaN, written as a bare NaN token."""
    return json.dumps(
        {
            "time": 1_763_800_000 + rng.random() * 1000,
            "type": rng.choice(("view", "cart", "purchase", "remove_from_cart")),
            "product_id": rng.randint(1, 10_000),
            "category_id": rng.randint(1, 500),
            "category_code": math.nan if rng.random() < 0.33 else "electronics.smartphone",
            "brand": math.nan if rng.random() < 0.33 else "acme",
            "price": round(rng.uniform(1, 500), 2),
            "user_id": rng.randint(1, 1000),
            "user_session": session,
            "datacenter": rng.choice(("eu", "usa", "asia")),
        }
    )


def produce_keys(r: redis.Redis, rng: random.Random, n: int) -> set[str]:
    """The producer: a uuid4 key, SETNX the event, EXPIRE 600."""
    names = set()
    for _ in range(n):
        name = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        assert r.setnx(name, store_event(rng, name))
        r.expire(name, 600)
        names.add(name)
    return names


def moved(v: Any) -> float:
    return metric(httpx.get(f"{v.url}/metrics", timeout=5).text, "vitrina_redis_keys_moved_total", glob="*")


def test_keys_loaded_exactly_once_across_sigkills(redis_server: Redis, make_vitrina: Any) -> None:
    r = redis.Redis(port=redis_server.port)
    rng = random.Random(12)
    v = make_vitrina(KEYS_CONFIG, extra_args=["--redis", redis_server.url])
    produce(v, "own", 5)  # vitrina's own stream keys are matched by "*" too, and skipped
    sent: set[str] = set()
    partial = []
    for _ in range(3):
        v.kill()
        sent |= produce_keys(r, rng, 3000)
        v.start()
        at = rng.randint(1, 2500)
        # killed after a random number of keys moved: mid-move, or mid-load of what was moved
        wait_for(v, lambda at=at: moved(v) >= at, 60, f"{at} keys moved", interval=0.005)
        partial.append(v.scalar("SELECT count() FROM vitrina.store_events"))
        v.kill()
        v.start()
    assert any(n < len(sent) for n in partial), partial
    wait_for(v, lambda: v.scalar("SELECT count() FROM vitrina.store_events") >= len(sent), 90, f"{len(sent)} store events")
    rows = v.sql("SELECT user_session, count() AS n FROM vitrina.store_events GROUP BY user_session HAVING n > 1 LIMIT 5")
    assert rows == [], "keys stored twice"
    assert v.scalar("SELECT count() FROM vitrina.store_events") == len(sent)
    assert {x["user_session"] for x in v.sql("SELECT user_session FROM vitrina.store_events")} == sent
    # NaN cells are nulls, the rest kept; nothing was rejected; no key is left to expire
    nulls = v.sql("SELECT countIf(brand IS NULL) AS b, countIf(category_code = 'electronics.smartphone') AS c FROM vitrina.store_events")[0]
    assert 0.25 * len(sent) < nulls["b"] < 0.41 * len(sent) and nulls["c"] > 0.5 * len(sent)
    assert v.scalar("SELECT count() FROM vitrina.rejected") == 0
    assert not any(r.type(k) == b"string" for k in r.scan_iter("*"))
    assert loaded_rows(v, "own") == 500 and r.type("vitrina.metrics") == b"stream"


def test_a_string_key_named_as_a_stream_stops_nothing_else(redis_server: Redis, make_vitrina: Any) -> None:
    r = redis.Redis(port=redis_server.port)
    r.set("store", store_event(random.Random(1), "s"))  # a string key, named below as if it were a stream
    config = transport_config() + '[transport.foreign]\nstore = "store_events"\n'
    v = make_vitrina(config, start=False, extra_args=["--redis", redis_server.url])
    v.spawn()  # not ready, so not started the usual way (it waits for /readyz)

    def not_ready() -> Any:
        assert v.proc is not None and v.proc.poll() is None, v.log_path.read_text()[-3000:]
        resp = httpx.get(f"{v.url}/readyz", timeout=5)
        return resp.status_code == 503 and "store" in resp.text and resp

    ready = wait_for(v, not_ready, 60, "/readyz 503 naming the key")
    assert "WRONGTYPE" in ready.json()["message"], ready.text
    produce(v, "other", 3)
    wait_for(v, lambda: loaded_rows(v, "other") == 300, 60, "the metrics stream still loads")
    # fixed (the key becomes a stream): loaded, and ready again
    r.delete("store")
    r.xadd("store", {"data": store_event(random.Random(2), "fixed")})
    wait_for(v, lambda: v.scalar("SELECT count() FROM vitrina.store_events") == 1, 60, "the fixed key loaded")
    wait_for(v, lambda: httpx.get(f"{v.url}/readyz", timeout=5).status_code == 200, 30, "/readyz 200")


class _SlowScan(redis.Redis):
    """A real client whose SCAN returns only once the keys it found have expired: the race
    between the producer's EXPIRE and the move, made to happen every time."""

    def scan(self, *args: Any, **kwargs: Any) -> Any:
        cursor, names = super().scan(*args, **kwargs)
        for name in names:
            if self.type(name) == b"string":
                self.pexpire(name, 1)
        wait_until(lambda: not any(self.type(n) == b"string" for n in names), 10, "the scanned keys to expire")
        return cursor, names


def test_keys_that_expire_before_their_move_are_counted(redis_server: Redis) -> None:
    client = _SlowScan(port=redis_server.port)
    for i in range(7):
        client.set(f"ev-{i}", "{}")
    client.xadd("vitrina.metrics", {"r": b"{}"})  # another type: skipped, not counted
    transport = TransportSettings(kind="redis", redis_keys={"ev-*": "store_events", "*": "store_events"})
    mover = KeyMover(client, transport, "m-0")
    step = mover.step()
    assert step.vanished == {"ev-*": 7} and step.moved == {}
    assert client.xlen("vitrina.store_events.from-keys") == 0 and client.xlen("vitrina.metrics") == 1
