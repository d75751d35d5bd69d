"""The engine policy: the one place that builds vitrina's DDL (CREATE, ALTER, DROP, REPLACE
PARTITION of its own tables) and names the tables queries read and inserts write.

Callers ask for what they want (a stream's raw table, a model's staging table, the partition
swap of a model run) and run what they get back; they never write DDL themselves. This class
is the policy of one server, embedded chdb or a ClickHouse server: the MergeTree family with
`non_replicated_deduplication_window`, byte for byte the DDL vitrina has always sent, so data
folders made by earlier versions keep upgrading. `cluster.py` is the policy of a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from vitrina.core import REJECTED_TABLE
from vitrina.streams.declare import Rollup, Stream
from vitrina.streams.rejected import REJECTED
from vitrina.warehouse import ddl

# What a CREATE ... IF NOT EXISTS built here creates (its own output, so its own format).
_CREATES = re.compile(r"^CREATE (?:TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS [^.\s]+\.`?(\w+)`?")


def as_is(table: str) -> str:
    """The name to read a table by on one server: the table itself."""
    return table


def created_object(sql: str) -> str | None:
    """The table or view a `CREATE ... IF NOT EXISTS` statement of this module creates."""
    match = _CREATES.match(sql)
    return match[1] if match else None


def to_create(statements: Iterable[str], existing: Callable[[], set[str]]) -> list[str]:
    """The statements still needed: those creating an object that is already there are left
    out (on a cluster each one would be a distributed DDL task waiting for every host)."""
    out: list[str] = []
    have: set[str] | None = None
    for sql in statements:
        name = created_object(sql)
        if name is not None:
            have = existing() if have is None else have
            if name in have:
                continue
        out.append(sql)
    return out


class EnginePolicy:
    """One server: embedded chdb or a ClickHouse server."""

    cluster: str | None = None

    def __init__(self, database: str) -> None:
        self.database = database

    # -- names ------------------------------------------------------------------------------

    def q(self, table: str) -> str:
        return f"{self.database}.`{table}`"

    def read(self, table: str) -> str:
        """The table a query reads to see all of `table`'s rows."""
        return table

    def reads(self, template: str) -> str:
        """A query template with each `$db.NAME` naming the table to read NAME through."""
        return template

    def write(self, table: str) -> str:
        """The table an insert of `table`'s rows goes to."""
        return table

    def insert_settings(self, table: str) -> dict[str, object]:
        return {}

    def read_settings(self, table: str) -> dict[str, object]:
        return {}

    # -- what differs on a cluster ----------------------------------------------------------

    def _on(self, ref: str) -> str:
        return ref

    def _engine(self, table: str, family: str, *, everywhere: bool = False) -> str:
        return family

    def _dedup(self) -> str:
        return f"non_replicated_deduplication_window = {ddl.DEDUP_WINDOW}"

    def _twin(self, table: str, shard_key: str | None) -> list[str]:
        """The table that reads (and for raw tables, inserts) reach every shard through."""
        return []

    def _view_twin(self, table: str) -> list[str]:
        return []

    # -- the schema -------------------------------------------------------------------------

    def create_database(self) -> list[str]:
        return [f"CREATE DATABASE IF NOT EXISTS {self._on(self.database)}"]

    def raw_table(self, stream: Stream, ttl_days: int | None = None) -> list[str]:
        t = stream.table
        order = ", ".join(stream.order_by) if stream.order_by else stream.time_field
        partition = stream.partition_by or f"toYYYYMMDD({stream.time_sql})"
        create = (
            f"CREATE TABLE IF NOT EXISTS {self._on(self.q(t))} (\n{ddl.raw_columns(stream)}\n) ENGINE = {self._engine(t, 'MergeTree')}\n"
            f"PARTITION BY {partition}\nORDER BY ({order}){ddl.ttl_clause(stream, ttl_days)}\nSETTINGS {self._dedup()}"
        )
        return [create, *self._twin(t, stream.sharding_key)]

    def add_columns(self, stream: Stream, existing: set[str]) -> list[str]:
        """ALTERs for fields declared after the table was created (a user extends a stream)."""
        return [sql for column in ddl.new_columns(stream, existing) for sql in self._add_column(stream.table, column)]

    def _add_column(self, table: str, column: str, after: str = "") -> list[str]:
        return [f"ALTER TABLE {self._on(self.q(table))} ADD COLUMN IF NOT EXISTS {column}{after}"]

    def rollup_table(self, stream: Stream, rollup: Rollup, resolution: str, ttl_days: int | None = None) -> list[str]:
        """The target table (types inferred by ClickHouse from the -State select)."""
        table = rollup.table(stream.name, resolution)
        select = ddl.rollup_select(stream, rollup, resolution, self.database)
        create = (
            f"CREATE TABLE IF NOT EXISTS {self._on(self.q(table))}\nENGINE = {self._engine(table, 'AggregatingMergeTree')}\n"
            f"PARTITION BY toYYYYMM(t)\nORDER BY ({ddl.rollup_order(rollup)}){ddl.rollup_ttl(stream, ttl_days)}\n"
            f"SETTINGS {self._dedup()}\nEMPTY AS {select}"
        )
        return [create, *self._twin(table, None)]

    def rollup_view(self, stream: Stream, rollup: Rollup, resolution: str) -> str:
        """The materialized view that aggregates every block inserted into the raw table."""
        table = rollup.table(stream.name, resolution)
        select = ddl.rollup_select(stream, rollup, resolution, self.database)
        return f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self._on(self.q(table + '_mv'))} TO {self.q(table)} AS\n{select}"

    def rollup_backfill(self, stream: Stream, rollup: Rollup, resolution: str) -> str:
        """Fills a new rollup from the rows its raw table already holds."""
        table = rollup.table(stream.name, resolution)
        return f"INSERT INTO {self.q(table)} {ddl.rollup_select(stream, rollup, resolution, self.database)}"

    def rejected_table(self) -> list[str]:
        t = REJECTED_TABLE
        create = (
            f"CREATE TABLE IF NOT EXISTS {self._on(self.q(t))} (\n{ddl.REJECTED_COLUMNS}\n) ENGINE = {self._engine(t, 'MergeTree')}\n"
            f"PARTITION BY {REJECTED.partition_by}\nORDER BY ({', '.join(REJECTED.order_by)})\nSETTINGS {self._dedup()}"
        )
        return [create, *self._twin(t, ddl.REJECTED_SHARD_KEY)]

    def rejected_key_column(self) -> list[str]:
        """The `key` column on a rejected table made before it existed, where a new one has it."""
        return self._add_column(REJECTED_TABLE, f"`key` {ddl.REJECTED_KEY_TYPE}", " AFTER `source`")

    def _bookkeeping(self, table: str, columns: str, layout: str) -> list[str]:
        name = self._on(f"{self.database}.{table}")
        engine = self._engine(table, "MergeTree", everywhere=True)
        return [f"CREATE TABLE IF NOT EXISTS {name} {columns} ENGINE = {engine} {layout}", *self._view_twin(table)]

    def migrations_table(self) -> list[str]:
        return self._bookkeeping(ddl.MIGRATIONS_TABLE, ddl.MIGRATIONS_COLUMNS, "ORDER BY version")

    def plans_table(self) -> list[str]:
        layout = f"ORDER BY (topic, partition, first)\nTTL toDateTime(time) + INTERVAL 7 DAY\nSETTINGS {self._dedup()}"
        return self._bookkeeping(ddl.PLANS_TABLE, ddl.PLANS_COLUMNS, layout)

    def model_runs_table(self) -> list[str]:
        return self._bookkeeping(ddl.RUNS_TABLE, ddl.RUNS_COLUMNS, "ORDER BY (name, started)")

    def alert_samples_table(self) -> list[str]:
        return self._bookkeeping(ddl.SAMPLES_TABLE, ddl.SAMPLES_COLUMNS, "PARTITION BY toYYYYMM(time) ORDER BY (figure, labels, time)")

    # -- models: whole days recomputed into a staging table and swapped in ------------------

    def model_table(self, name: str, time: str, order_by: str, select: str) -> list[str]:
        """A model's table, its columns those of `select`, one partition per UTC day."""
        layout = f"PARTITION BY toYYYYMMDD(`{time}`) ORDER BY ({order_by})"
        return [f"CREATE TABLE {self.q(name)} ENGINE = {self._engine(name, 'MergeTree', everywhere=True)} {layout} EMPTY AS {select}"]

    def drop_model(self, name: str) -> list[str]:
        """Drops a model's table whose columns changed (it is made again)."""
        return [f"DROP TABLE IF EXISTS {self.q(name)}"]

    def stage_table(self, stage: str, model: str, time: str, order_by: str) -> str:
        """A scratch table shaped like the model's, on the server this connection reaches."""
        return f"CREATE TABLE {self.q(stage)} AS {self.q(model)}"

    def sync_replica(self, table: str) -> list[str]:
        """Brings this server's copy of `table` up to date before its partitions are listed."""
        return []

    def replace_partition(self, table: str, partition_id: str, source: str) -> str:
        return f"ALTER TABLE {self.q(table)} REPLACE PARTITION ID '{partition_id}' FROM {self.q(source)}"

    def drop_partition(self, table: str, partition_id: str) -> str:
        return f"ALTER TABLE {self.q(table)} DROP PARTITION ID '{partition_id}'"

    def drop_scratch(self, table: str) -> str:
        """Drops a scratch table (a model's staging, a Null copy) of this server."""
        return f"DROP TABLE IF EXISTS {self.q(table)}"

    # -- the loaders' isolation of refused rows ---------------------------------------------

    def null_copy(self, source: str, copy: str) -> str:
        """A Null-engine copy of `source` on this server: inserts into it check rows, store nothing."""
        return f"CREATE OR REPLACE TABLE {self.q(copy)} AS {self.q(source)} ENGINE = Null"

    # -- the ClickHouse Kafka engine (`vitrina ddl kafka-engine`) ----------------------------

    def kafka_queue(self, queue: str, columns: str, settings: str) -> str:
        return f"CREATE TABLE IF NOT EXISTS {self._on(self.q(queue))} (\n{columns}\n) ENGINE = Kafka\nSETTINGS\n{settings}"

    def kafka_view(self, view: str, target: str, select: str) -> str:
        return f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self._on(self.q(view))} TO {self.q(self.write(target))} AS\n{select}"

