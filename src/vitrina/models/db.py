"""A connection handle of its own for background stages (models, alerts), so a long model run
never holds the handles intake and the API read through."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import clickhouse_connect
import pyarrow as pa

from vitrina.warehouse.client import Dsn, Warehouse
from vitrina.warehouse.engine import to_create


def connect_url(dsn: Dsn) -> str:
    if dsn.embedded:
        assert dsn.path is not None
        return f"chdb://{dsn.path.resolve()}"
    return dsn.url


class Db:
    def __init__(self, dsn: Dsn) -> None:
        self.database = dsn.database
        self.policy = dsn.policy  # the statements and table names of this warehouse's layout
        self._client = clickhouse_connect.get_client(dsn=connect_url(dsn), database=None)
        self._lock = threading.Lock()  # a handle is not safe to share between threads

    @classmethod
    def of(cls, wh: Warehouse) -> Db:
        return cls(wh.dsn)

    def command(self, sql: str) -> None:
        with self._lock:
            self._client.command(sql)

    def ensure(self, statements: list[str]) -> None:
        """Runs the policy's statements that create what is not there yet."""
        for sql in to_create(statements, self._tables):
            self.command(sql)

    def _tables(self) -> set[str]:
        return {str(r[0]) for r in self.rows(f"SELECT name FROM system.tables WHERE database = '{self.database}'")}

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [tuple(r) for r in self._client.query(sql).result_rows]

    def columns_rows(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._lock:
            result = self._client.query(sql)
            return list(result.column_names), [tuple(r) for r in result.result_rows]

    def arrow(self, sql: str, parameters: dict[str, Any] | None = None) -> pa.Table:
        with self._lock:
            return self._client.query_arrow(sql, parameters=parameters or {})

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        with self._lock:
            self._client.insert(f"{self.database}.{table}", [list(r) for r in rows], column_names=list(columns))

    def close(self) -> None:
        self._client.close()
