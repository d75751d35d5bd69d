"""The warehouse: ClickHouse through clickhouse-connect, embedded (chdb://PATH) or a server
(http(s)://user:pass@host:port/db). The same SQL runs on both."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

# Settings every insert carries. The dedup window makes a retried batch (same token) a no-op,
# and dependent materialized views deduplicate with it so rollups never count a batch twice.
INSERT_SETTINGS = {
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "input_format_skip_unknown_fields": 0,
}


@dataclass(frozen=True)
class Dsn:
    url: str
    database: str

    @property
    def embedded(self) -> bool:
        return self.url.startswith("chdb:")

    @property
    def path(self) -> Path | None:
        if not self.embedded:
            return None
        parsed = urlparse(self.url)
        return Path(parsed.netloc + parsed.path) if parsed.netloc else Path(parsed.path)


def parse_dsn(url: str, database: str = "vitrina") -> Dsn:
    if url.startswith(("chdb://", "http://", "https://")):
        return Dsn(url, database)
    raise ValueError(f"unsupported DSN {url!r}: use chdb://PATH or http(s)://user:pass@host:port")


class Warehouse:
    """A writer client and a separate read-only client (its session is locked with readonly=1,
    which on chdb must be a different connection handle: settings are per handle)."""

    def __init__(self, dsn: Dsn, *, fsync: bool = False) -> None:
        self.dsn = dsn
        self.database = dsn.database
        if dsn.embedded:
            assert dsn.path is not None
            dsn.path.mkdir(parents=True, exist_ok=True)
            self._connect_url = f"chdb://{dsn.path.resolve()}"
        else:
            self._connect_url = dsn.url
        self.client = self._new_client()
        self.client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        # The writer thread inserts through its own handle so reads never wait on it.
        self._insert_client = self._new_client()
        self.insert_settings: dict[str, Any] = dict(INSERT_SETTINGS)
        if fsync:
            self.insert_settings["fsync_after_insert"] = 1
        # A chdb connection handle is not safe to share between threads: one lock per handle.
        self._lock = threading.Lock()
        self._insert_lock = threading.Lock()

    def _new_client(self) -> Client:
        return clickhouse_connect.get_client(dsn=self._connect_url, database=None)

    def reader(self, *, max_rows: int, timeout_s: float) -> Client:
        """A client that cannot write, change settings or run longer than `timeout_s`."""
        client = self._new_client()
        for name, value in (
            ("max_result_rows", max_rows + 1),
            ("result_overflow_mode", "'break'"),
            ("max_execution_time", timeout_s),
            ("readonly", 1),  # last: after it no setting can be changed on this session
        ):
            client.command(f"SET {name} = {value}")
        return client

    def command(self, sql: str, **kw: Any) -> Any:
        with self._lock:
            return self.client.command(sql, **kw)

    def query(self, sql: str, **kw: Any) -> Any:
        with self._lock:
            return self.client.query(sql, **kw)

    def insert_json_rows(self, table: str, rows: bytes, token: str | None = None) -> None:
        settings = dict(self.insert_settings)
        if token:
            settings["insert_deduplication_token"] = token
        with self._insert_lock:
            self._insert_client.raw_insert(f"{self.database}.{table}", None, rows, fmt="JSONEachRow", settings=settings)

    def close(self) -> None:
        self._insert_client.close()
        self.client.close()
