"""Redis Streams transport against a real redis-server: exactly once across SIGKILLs, a dead
consumer's pending entries claimed by another, foreign entries validated, and trimming that
never drops an unloaded entry."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import redis

from tests.log.helpers import assert_exactly_once, produce_and_kill, transport_config, wait_for
from tests.log.services import Redis


def test_sigkill_during_loading_stores_exactly_once(redis_server: Redis, make_vitrina: Any) -> None:
    v = make_vitrina(transport_config(), extra_args=["--redis", redis_server.url])
    total = produce_and_kill(v, "r1", random.Random(4), 3)
    assert_exactly_once(v, "r1", total)
    # everything loaded was trimmed; nothing waits
    r = redis.Redis(port=redis_server.port)
    wait_for(v, lambda: r.xlen("vitrina.metrics") < total, 10, "the stream trimmed")
    assert r.xpending("vitrina.metrics", "vitrina-loader")["pending"] == 0


def test_dead_consumer_entries_are_claimed(redis_server: Redis, make_vitrina: Any) -> None:
    v = make_vitrina(transport_config(), extra_args=["--redis", redis_server.url, "--loaders", "2"])
    total = produce_and_kill(v, "r2", random.Random(5), 1)
    v.kill()
    # restart with one loader: consumer t-1 is gone, its pending entries must be claimed
    v.extra_args = ["--redis", redis_server.url, "--loaders", "1"]
    v.start()
    assert_exactly_once(v, "r2", total)
    r = redis.Redis(port=redis_server.port)
    assert r.xpending("vitrina.metrics", "vitrina-loader")["pending"] == 0


def test_foreign_entries_and_poison(redis_server: Redis, make_vitrina: Any) -> None:
    r = redis.Redis(port=redis_server.port)
    for i in range(30):
        event = {"type": "view", "product_id": i, "category_id": 1, "price": 9.5, "user_id": 7, "user_session": "s", "datacenter": "eu"}
        r.xadd("store", {"data": json.dumps(event)})
        if i == 10:
            r.xadd("store", {"data": b"not json"})
    config = transport_config() + '[transport.foreign]\nstore = "store_events"\n'
    v = make_vitrina(config, extra_args=["--redis", redis_server.url])
    wait_for(v, lambda: v.scalar("SELECT count() FROM vitrina.store_events") == 30, 30, "30 store events")
    rejected = v.sql("SELECT stream, source, position, raw FROM vitrina.rejected")
    assert len(rejected) == 1 and rejected[0]["raw"] == "not json" and rejected[0]["source"] == "redis"
    assert rejected[0]["position"].startswith("store/")
    # the rollup's part becomes visible a moment after the raw part of the same insert
    wait_for(v, lambda: v.scalar("SELECT countMerge(events) FROM vitrina.store_events_1s") == 30, 10, "the rollup")


def test_flush_is_refused_with_a_log_transport(redis_server: Redis, make_vitrina: Any) -> None:
    v = make_vitrina(extra_args=["--redis", redis_server.url, "--no-loader"])
    resp = httpx.post(f"{v.url}/v1/flush")
    assert resp.status_code == 409 and "vitrina_loader_lag" in resp.json()["message"]
