"""ClickHouse as the sink every loader stores through (core.Sink).

Inserts carry the batch's deduplication token (warehouse/client.py), so a retried insert
stores nothing twice, in the raw table and in its materialized views. A failure is a
refusal of the rows only when ClickHouse's error code says so (warehouse/failures.py).

To store somewhere else, write another class with the same three members (`insert`,
`refuses`, `checker`) and hand it to the pipeline where it opens its sink
(pipeline.py: Pipeline.open) and to `vitrina load` (cli/transport.py).
"""

from __future__ import annotations

from vitrina.warehouse.client import Warehouse
from vitrina.warehouse.failures import is_refusal

CHECK_PREFIX = "_vitrina_check_"


class NullCopy:
    """Finds refused rows for a warehouse: inserts into a Null-engine copy of the table, made
    afresh for each search (an operator may have altered the table, the very reason rows are
    refused). The Null engine stores nothing and feeds no view."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def prepare(self, table: str) -> None:
        self.wh.command(self.wh.policy.null_copy(table, CHECK_PREFIX + table))

    def __call__(self, table: str, rows: bytes) -> None:
        self.wh.insert_json_rows(CHECK_PREFIX + table, rows)

    def finish(self, table: str) -> None:
        self.wh.command(self.wh.policy.drop_scratch(CHECK_PREFIX + table))


class WarehouseSink:
    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self.checker: NullCopy | None = NullCopy(wh)

    def insert(self, table: str, rows: bytes, token: str) -> None:
        self.wh.insert_json_rows(table, rows, token)

    def refuses(self, exc: BaseException) -> bool:
        return is_refusal(exc)
