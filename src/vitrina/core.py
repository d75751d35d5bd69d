"""What vitrina's stages agree on: the errors a log answers with, the sink every loader stores
through, and the one table every stage writes to besides the streams' own.

Every stage may import this module, and it imports nothing of vitrina: it is the bottom
layer of the import contract in pyproject.toml. One module rather than a package, because it
holds only the shared words, no behaviour of its own (the stages' own interfaces live with
them: the Log in log/base.py, what the intake needs in intake/target.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# Bad items of a request (intake) and rows the warehouse refused (loaders), with their
# reasons: carried by every log (a topic or stream of its own) and inserted like a stream.
REJECTED_TABLE = "rejected"

# observe(table, rows, seconds): one insert of `rows` rows into `table` took `seconds`.
ObserveFn = Callable[[str, int, float], None]


class Overloaded(Exception):
    """The log is too far behind: answer 503 with Retry-After (nothing of the request is kept)."""


class StorageError(Exception):
    """The rows were not stored: the warehouse refused them, or the log could not be written."""


class Checker(Protocol):
    """Parses and converts rows as an insert into `table` would, storing nothing; raises what
    the insert would raise for them. prepare() runs before each search, finish() after it."""

    def prepare(self, table: str) -> None: ...

    def __call__(self, table: str, rows: bytes) -> None: ...

    def finish(self, table: str) -> None: ...


class Sink(Protocol):
    """Where loaders store rows (warehouse/sink.py: ClickHouse, embedded or a server). Every
    loader path (the write-ahead log's loader, the Kafka and Redis loaders, the group commit)
    stores through one, by load/commit.py."""

    @property
    def checker(self) -> Checker | None:
        """Finds the rows of a refused insert without storing anything; None: this sink
        cannot, and a refused batch is retried until the sink takes it."""

    def insert(self, table: str, rows: bytes, token: str) -> None:
        """Store JSONEachRow `rows` in `table`, or raise. An insert again under the same token
        stores nothing twice, also when an earlier attempt stored part of it."""

    def refuses(self, exc: BaseException) -> bool:
        """True when insert() raised `exc` because of the rows themselves (retrying the same
        rows cannot succeed); False for a failed attempt, which is retried."""


def describe(exc: BaseException) -> str:
    """The first line of an error, for logs and the rejected table's reasons."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
