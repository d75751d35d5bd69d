"""What `Pipeline.store` hands events to when the transport is a log (Kafka or Redis)."""

from __future__ import annotations

from typing import Protocol


class LogProducer(Protocol):
    async def send(self, stream: str, rows: bytes, rejected: bytes, key: bytes | None) -> None:
        """Append the JSONEachRow `rows` of `stream` (one message per row) and the rejected
        rows; return once the log acknowledged every message. Raises Overloaded or
        StorageError like the group-commit writer."""

    def close(self) -> None:
        """Deliver what is in flight, then stop."""


def split_rows(rows: bytes) -> list[bytes]:
    """JSONEachRow bytes (each row ends with a newline) into rows without the newline."""
    if not rows:
        return []
    return rows.rstrip(b"\n").split(b"\n")
