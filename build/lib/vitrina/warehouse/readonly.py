"""Analysts' SQL: one read-only query, row-capped and time-limited.

Writes, DDL and setting changes are refused by ClickHouse itself (the reader's session runs
with readonly=1, set last); this module only maps the outcome to answers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.exceptions import ClickHouseError

from vitrina.warehouse.client import Warehouse

READONLY_CODES = {164}  # READONLY
TIMEOUT_CODES = {159}  # TIMEOUT_EXCEEDED


class QueryRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _code(exc: Exception) -> int | None:
    text = str(exc)
    marker = "Code: "
    at = text.find(marker)
    if at < 0:
        return None
    digits = "".join(ch for ch in text[at + len(marker) : at + len(marker) + 6] if ch.isdigit())
    return int(digits) if digits else None


def _single_statement(sql: str) -> bool:
    """True when `sql` holds one statement. Written by hand because ClickHouse's own parser is
    not reachable before execution and chdb runs `a; b` as two queries: skip quoted strings,
    quoted identifiers and comments, then look for a ';' followed by anything."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            i += 1
            while i < n and sql[i] != ch:
                i += 2 if sql[i] == "\\" else 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 1
        elif ch == ";":
            return sql[i + 1 :].strip() == ""
        i += 1
    return True


@dataclass
class QueryResult:
    meta: list[dict[str, str]]
    data: list[dict[str, Any]]
    rows: int
    truncated: bool


class ReadOnlySql:
    def __init__(self, wh: Warehouse, *, max_rows: int, timeout_s: float) -> None:
        self.max_rows = max_rows
        self._client = wh.reader(max_rows=max_rows, timeout_s=timeout_s)
        self._lock = threading.Lock()

    def run(self, sql: str) -> QueryResult:
        sql = sql.strip()
        if not sql:
            raise QueryRefused(400, "empty query")
        if not _single_statement(sql):
            raise QueryRefused(400, "send one statement (no ';' between queries)")
        try:
            with self._lock:
                result = self._client.query(sql)
        except ClickHouseError as exc:
            code = _code(exc)
            first = str(exc).split("\n")[0]
            if code in READONLY_CODES:
                raise QueryRefused(403, f"read-only: {first}") from None
            if code in TIMEOUT_CODES:
                raise QueryRefused(408, f"time limit: {first}") from None
            raise QueryRefused(400, first) from None
        names = list(result.column_names)
        types = [t.name for t in result.column_types]
        rows = result.result_rows
        truncated = len(rows) > self.max_rows
        rows = rows[: self.max_rows]
        data = [dict(zip(names, row, strict=False)) for row in rows]
        return QueryResult([{"name": n, "type": t} for n, t in zip(names, types, strict=False)], data, len(data), truncated)

    def close(self) -> None:
        self._client.close()
