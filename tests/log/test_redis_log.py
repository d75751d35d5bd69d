"""The Redis Log itself (log/redis_log.py), against a real redis-server: close() closes the
connections it opened for intake, on the event loop they belong to."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import wait_until
from tests.log.services import Redis
from vitrina.config import TransportSettings
from vitrina.log.redis_log import RedisLog


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own, as intake's does beside Pipeline.close()."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def clients(r: redis.Redis) -> int:
    """Connections to the server, this one not counted."""
    return len(r.client_list()) - 1


def test_close_closes_the_connections(redis_server: Redis, loop: asyncio.AbstractEventLoop) -> None:
    r = redis.Redis(port=redis_server.port)
    log = RedisLog(TransportSettings(kind="redis", redis=redis_server.url), ["metrics"])
    log.start(loop)

    async def send() -> None:
        await log.submit("metrics", b'{"metric_name":"a","metric_value":1}\n', 1)

    asyncio.run_coroutine_threadsafe(send(), loop).result(10)
    assert r.xlen("vitrina.metrics") == 1
    assert clients(r) >= 1
    log.close()
    wait_until(lambda: clients(r) == 0, 10, "the log's connections closed")
