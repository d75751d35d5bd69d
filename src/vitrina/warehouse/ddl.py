"""ClickHouse DDL derived from stream declarations: raw tables, rollup tables and the
materialized views that fill them, and the rejected-events table."""

from __future__ import annotations

from vitrina.streams.declare import RESOLUTIONS, Rollup, Stream
from vitrina.streams.rejected import REJECTED, REJECTED_TABLE

__all__ = ["REJECTED_TABLE"]
# The name of the API key that sent a rejected item ('' without [auth], or for the loaders' own).
REJECTED_KEY_TYPE = REJECTED.column("key").ddl
# Deduplication window for tokens of retried inserts (issue: exactly-once loading).
DEDUP_WINDOW = 10_000


def _ttl_clause(stream: Stream, ttl_days: int | None) -> str:
    days = ttl_days if ttl_days is not None else stream.ttl_days
    if not days:
        return ""
    return f"\nTTL toDateTime({stream.time_sql}) + INTERVAL {int(days)} DAY"


def raw_table(stream: Stream, database: str, ttl_days: int | None = None) -> str:
    cols = [f"    `{f.name}` {f.clickhouse_type()}" for f in stream.fields]
    cols += [f"    `{name}` {typ} MATERIALIZED {expr}" for name, typ, expr in stream.derived]
    cols.append("    `_received` DateTime64(3, 'UTC') DEFAULT now64(3)")
    order = ", ".join(stream.order_by) if stream.order_by else stream.time_field
    partition = stream.partition_by or f"toYYYYMMDD({stream.time_sql})"
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.`{stream.table}` (\n"
        + ",\n".join(cols)
        + f"\n) ENGINE = MergeTree\nPARTITION BY {partition}\nORDER BY ({order})"
        + _ttl_clause(stream, ttl_days)
        + f"\nSETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}"
    )


def add_columns(stream: Stream, database: str, existing: set[str]) -> list[str]:
    """ALTERs for fields declared after the table was created (a user extends a stream)."""
    out = []
    for f in stream.fields:
        if f.name not in existing:
            out.append(f"ALTER TABLE {database}.`{stream.table}` ADD COLUMN IF NOT EXISTS `{f.name}` {f.clickhouse_type()}")
    for name, typ, expr in stream.derived:
        if name not in existing:
            out.append(f"ALTER TABLE {database}.`{stream.table}` ADD COLUMN IF NOT EXISTS `{name}` {typ} MATERIALIZED {expr}")
    return out


def rollup_select(stream: Stream, rollup: Rollup, resolution: str, database: str) -> str:
    """The aggregation a materialized view runs on every inserted block (and a backfill runs
    once over existing rows)."""
    bucket = f"toDateTime({RESOLUTIONS[resolution]}({stream.time_sql}), 'UTC') AS t"
    keys = [f"{expr} AS `{name}`" for name, expr in rollup.keys]
    states = [f"{a.state_sql()} AS `{a.name}`" for a in rollup.aggregates]
    group = ", ".join(["t", *(f"`{name}`" for name, _ in rollup.keys)])
    where = f"\nWHERE {rollup.where}" if rollup.where else ""
    return "SELECT " + ", ".join([bucket, *keys, *states]) + f"\nFROM {database}.`{stream.table}`{where}\nGROUP BY {group}"


def rollup_tables(stream: Stream, rollup: Rollup, resolution: str, database: str, ttl_days: int | None = None) -> list[str]:
    """Target table (types inferred by ClickHouse from the -State select) and its view."""
    table = rollup.table(stream.name, resolution)
    order = ", ".join(["t", *(f"`{name}`" for name, _ in rollup.keys)])
    days = ttl_days if ttl_days is not None else stream.ttl_days
    ttl = f"\nTTL toDateTime(t) + INTERVAL {int(days)} DAY" if days else ""
    select = rollup_select(stream, rollup, resolution, database)
    return [
        f"CREATE TABLE IF NOT EXISTS {database}.`{table}`\nENGINE = AggregatingMergeTree\n"
        f"PARTITION BY toYYYYMM(t)\nORDER BY ({order}){ttl}\n"
        f"SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}\nEMPTY AS {select}",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.`{table}_mv` TO {database}.`{table}` AS\n{select}",
    ]


def rejected_table(database: str) -> str:
    cols = ",\n".join(f"    `{c.name}` {c.ddl}" for c in REJECTED.columns)
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.`{REJECTED_TABLE}` (\n{cols}\n"
        f") ENGINE = MergeTree\nPARTITION BY {REJECTED.partition_by}\nORDER BY ({', '.join(REJECTED.order_by)})\n"
        f"SETTINGS non_replicated_deduplication_window = {DEDUP_WINDOW}"
    )


def rejected_key_column(database: str) -> str:
    """The `key` column on a rejected table made before it existed, where a new one has it."""
    return f"ALTER TABLE {database}.`{REJECTED_TABLE}` ADD COLUMN IF NOT EXISTS `key` {REJECTED_KEY_TYPE} AFTER `source`"
