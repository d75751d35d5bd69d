"""The Log: where `Pipeline.store` puts a request's rows, and what makes an answer durable.

Four implementations, chosen by the settings (pipeline.py: open_log):
- log/wal_writer.py `WalWriter` (`[writer] ack = "wal"`, the default): the write-ahead log
  under the data folder; its loader (load/wal_loader.py) inserts behind the answers;
- log/kafka.py `KafkaLog` and log/redis_log.py `RedisLog` (`[transport] kind`): a broker's
  log; loader groups (load/kafka_loader.py, load/redis_loader.py) insert from it;
- load/group_commit.py `GroupCommit` (`ack = "insert"`): no log at all; the rows are inserted
  before the request is answered (it lives with the loaders because it is one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol


class Log(Protocol):
    @property
    def pending(self) -> int:
        """Rows accepted and not yet durable (their requests are still waiting)."""

    @property
    def backlog(self) -> int:
        """Rows acknowledged and not yet in ClickHouse, of those this process loads."""

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open, on the event loop the requests run on (called once, before the first submit)."""

    def submit(
        self, stream: str, rows: bytes, count: int, key: bytes | None = None, rejected: bytes = b"", rejected_count: int = 0
    ) -> Awaitable[None]:
        """Accept `count` JSONEachRow `rows` of `stream` and `rejected_count` rows of the
        rejected table (a request's bad items). Called on the event loop; the awaitable is done
        once all of them are durable, and the request is answered then. `key` (an API key's
        name) keeps one producer's events in order on a partitioned log. Raises Overloaded
        (nothing accepted; 503) and the awaitable may fail with StorageError (not stored)."""

    def flush(self, timeout: float) -> bool:
        """From any thread but the loop's: insert now what this process still holds of the
        acknowledged rows; True once all of it is in ClickHouse (within `timeout` s)."""

    def close(self, timeout: float = 60.0) -> None:
        """From any thread but the loop's: stop accepting, make everything accepted durable
        (and what this process loads, loaded), then release what the log holds open."""


def split_rows(rows: bytes) -> list[bytes]:
    """JSONEachRow bytes (each row ends with a newline) into rows without the newline."""
    if not rows:
        return []
    return rows.rstrip(b"\n").split(b"\n")


def resolve(waiters: list[asyncio.Future[None]], error: Exception | None) -> None:
    """Answer waiting requests (on the event loop): done, or failed with `error`."""
    for fut in waiters:
        if fut.done():  # the request was cancelled (client went away)
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)
