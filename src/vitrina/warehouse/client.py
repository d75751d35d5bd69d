"""The warehouse: ClickHouse through clickhouse-connect, embedded (chdb://PATH) or a server
(http(s)://user:pass@host:port/db). The same SQL runs on both."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from vitrina.config import SqlSettings
from vitrina.warehouse import crash
from vitrina.warehouse.cluster import policy_for
from vitrina.warehouse.engine import EnginePolicy, to_create

# ClickHouse pauses a query while one of a higher priority (a lower number) runs: readers
# yield to inserts, so analysts' queries slow ingestion less (bench/reader_priority.py).
INSERT_PRIORITY, READER_PRIORITY = 1, 2

# Settings every insert carries. The dedup window makes a retried batch (same token) a no-op,
# and dependent materialized views deduplicate with it so rollups never count a batch twice.
INSERT_SETTINGS = {
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "input_format_skip_unknown_fields": 0,
    "priority": INSERT_PRIORITY,
}


def reader_settings(limits: SqlSettings) -> dict[str, object]:
    """The ClickHouse settings of a reader's session. `limit` caps the rows of the outermost
    query only (one more than max_rows, so a cut is seen); the rest bound one query's memory,
    result, threads and time, let inserts go first, and make ClickHouse's JSON output safe and
    exact (UTF-8 checked, 64-bit and wider integers as numbers, times in ISO 8601 UTC)."""
    settings: dict[str, object] = {
        "limit": limits.max_rows + 1,
        "max_execution_time": limits.timeout_s,
        "max_memory_usage": limits.max_memory_mb * 1024 * 1024,
        "max_result_bytes": limits.max_result_mb * 1024 * 1024,
        "result_overflow_mode": "'throw'",
        "output_format_json_validate_utf8": 1,
        "output_format_json_quote_64bit_integers": 0,
        "output_format_json_quote_denormals": 0,
        "date_time_output_format": "'iso'",
        "priority": READER_PRIORITY,
    }
    if limits.max_threads:
        settings["max_threads"] = limits.max_threads
    return settings


def drain(client: Client) -> None:
    """After a failed query: chdb hands what that query had already written of its answer to
    the next query on the same handle (which then fails, or answers another query's rows);
    one throwaway query takes it."""
    with contextlib.suppress(ClickHouseError):
        client.raw_query("SELECT 1")


@dataclass(frozen=True)
class Dsn:
    url: str
    database: str
    cluster: str | None = None  # `[warehouse] cluster`: the tables are laid out for that cluster

    @property
    def policy(self) -> EnginePolicy:
        return policy_for(self.database, self.cluster)

    @property
    def embedded(self) -> bool:
        return self.url.startswith("chdb:")

    @property
    def path(self) -> Path | None:
        if not self.embedded:
            return None
        parsed = urlparse(self.url)
        return Path(parsed.netloc + parsed.path) if parsed.netloc else Path(parsed.path)


def parse_dsn(url: str, database: str = "vitrina", cluster: str | None = None) -> Dsn:
    if not url.startswith(("chdb://", "http://", "https://")):
        raise ValueError(f"unsupported DSN {url!r}: use chdb://PATH or http(s)://user:pass@host:port")
    if cluster and url.startswith("chdb://"):
        raise ValueError(f"[warehouse] cluster {cluster!r} needs a ClickHouse server: the embedded engine has no cluster")
    return Dsn(url, database, cluster or None)


class Warehouse:
    """A writer client and a separate read-only client (its session is locked with readonly=1,
    which on chdb must be a different connection handle: settings are per handle).

    `owner`: this process holds the embedded engine's data folder and will replay what a
    killed predecessor left unconfirmed; the deduplication ids a crash left without their parts
    are dropped first (warehouse/crash.py), so those replays are stored."""

    def __init__(self, dsn: Dsn, *, fsync: bool = False, owner: bool = False) -> None:
        self.dsn = dsn
        self.database = dsn.database
        if dsn.embedded:
            assert dsn.path is not None
            dsn.path.mkdir(parents=True, exist_ok=True)
            if owner:
                crash.repair(dsn.path)
            self._connect_url = f"chdb://{dsn.path.resolve()}"
        else:
            self._connect_url = dsn.url
        self.policy = dsn.policy
        self.client = self._new_client()
        if not self.client.query("SELECT 1 FROM system.databases WHERE name = {db:String}", parameters={"db": self.database}).result_rows:
            for sql in self.policy.create_database():
                self.client.command(sql)
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

    def reader(self, limits: SqlSettings) -> Client:
        """A session that cannot write, change a setting, or outgrow `limits`; its current
        database is vitrina's, so `metrics` and `vitrina.metrics` name the same table."""
        client = clickhouse_connect.get_client(dsn=self._connect_url, database=self.database)
        for name, value in (*reader_settings(limits).items(), ("readonly", 1)):  # readonly last: nothing changes after it
            client.command(f"SET {name} = {value}")
        return client

    def command(self, sql: str, **kw: Any) -> Any:
        with self._lock:
            try:
                return self.client.command(sql, **kw)
            except ClickHouseError:
                drain(self.client)
                raise

    def query(self, sql: str, **kw: Any) -> Any:
        with self._lock:
            try:
                return self.client.query(sql, **kw)
            except ClickHouseError:
                drain(self.client)
                raise

    def ensure(self, statements: list[str]) -> None:
        """Runs the policy's statements that create what is not there yet."""
        for sql in to_create(statements, self.tables):
            self.command(sql)

    def tables(self) -> set[str]:
        rows = self.query("SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": self.database}).result_rows
        return {r[0] for r in rows}

    def insert_json_rows(self, table: str, rows: bytes, token: str | None = None) -> None:
        """Rows of `table` (on a cluster, through the table the policy inserts it by)."""
        settings = {**self.insert_settings, **self.policy.insert_settings(table)}
        if token:
            settings["insert_deduplication_token"] = token
        with self._insert_lock:
            self._insert_client.raw_insert(f"{self.database}.{self.policy.write(table)}", None, rows, fmt="JSONEachRow", settings=settings)

    def close(self) -> None:
        self._insert_client.close()
        self.client.close()
