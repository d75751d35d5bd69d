"""The `rejected` table, declared once: every refused item is kept there with its reason.

Its DDL (warehouse/ddl.py), the Kafka-engine queue that feeds it (warehouse/kafka_engine.py)
and the dead-letter rows vitrina writes into it (`DeadLetter`, load/batches.py) all derive
from `REJECTED`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from vitrina.core import REJECTED_TABLE


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # ClickHouse type
    default: str | None = None  # a written column's value when not given (stored as this text)
    filled_by: str | None = None  # SQL the warehouse fills the column with; vitrina never writes it
    description: str = ""

    @property
    def written(self) -> bool:
        return self.filled_by is None

    @property
    def ddl(self) -> str:
        """The column's type and default, as a table's DDL declares it."""
        if self.filled_by is not None:
            return f"{self.type} DEFAULT {self.filled_by}"
        if self.default is not None:
            return f"{self.type} DEFAULT {_quote(self.default)}"
        return self.type

    @property
    def wire_type(self) -> str:
        """The type as a message carries it (a Kafka-engine queue column): no LowCardinality."""
        inner = self.type
        while inner.startswith("LowCardinality(") and inner.endswith(")"):
            inner = inner[len("LowCardinality(") : -1]
        return inner


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    order_by: tuple[str, ...]
    partition_by: str

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def written(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.written)


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


REJECTED = Table(
    name=REJECTED_TABLE,
    columns=(
        Column("time", "DateTime64(3, 'UTC')", filled_by="now64(3)", description="when it was kept"),
        Column("stream", "LowCardinality(String)", description="the stream it was sent to"),
        Column("source", "LowCardinality(String)", description="how it came: http, kafka, redis, wal, kafka-engine"),
        # '' without [auth], or for the loaders' own rows
        Column("key", "LowCardinality(String)", default="", description="the name of the API key that sent it"),
        Column("position", "String", description="where it was: the item's index, a log's coordinates"),
        Column("reason", "String", description="why it was refused"),
        Column("raw", "String", description="the item as it was sent (at most 64 KiB)"),
    ),
    order_by=("stream", "time"),
    partition_by="toYYYYMM(time)",
)


def _dead_letter_fields() -> list[tuple[str, Any] | tuple[str, Any, Any]]:
    """The written columns, those without a default first (a Struct's positional order)."""
    plain = [(c.name, str) for c in REJECTED.written if c.default is None]
    defaulted = [(c.name, str, c.default) for c in REJECTED.written if c.default is not None]
    return [*plain, *defaulted]


if TYPE_CHECKING:  # the type checker's view of the struct built below from the columns

    class DeadLetter(msgspec.Struct):
        def __init__(self, *values: str, **named: str) -> None: ...

else:
    # One row of `rejected` as vitrina writes it (JSONEachRow): DeadLetter(stream, source,
    # position, reason, raw, key="").
    DeadLetter = msgspec.defstruct("DeadLetter", _dead_letter_fields(), module=__name__)
