"""Schema management: versioned migrations recorded in the warehouse, then a sync that makes
the tables match the stream declarations. Both are idempotent, so `vitrina up` on an existing
data folder upgrades it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from vitrina.streams.declare import RESOLUTIONS, Stream
from vitrina.warehouse import ddl
from vitrina.warehouse.client import Warehouse

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "_vitrina_migrations"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Warehouse, Iterable[Stream], Mapping[str, int]], None]


def _tables(wh: Warehouse) -> set[str]:
    rows = wh.query("SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": wh.database}).result_rows
    return {r[0] for r in rows}


def _columns(wh: Warehouse, table: str) -> set[str]:
    rows = wh.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        parameters={"db": wh.database, "t": table},
    ).result_rows
    return {r[0] for r in rows}


def sync_raw_tables(wh: Warehouse, streams: Iterable[Stream], ttl: Mapping[str, int]) -> None:
    wh.command(ddl.rejected_table(wh.database))
    existing = _tables(wh)
    for s in streams:
        if s.table in existing:
            for alter in ddl.add_columns(s, wh.database, _columns(wh, s.table)):
                log.info("extending %s: %s", s.table, alter)
                wh.command(alter)
        else:
            wh.command(ddl.raw_table(s, wh.database, ttl.get(s.name)))


def sync_rollups(wh: Warehouse, streams: Iterable[Stream], ttl: Mapping[str, int]) -> None:
    """Create missing rollups; a rollup added to a stream that already holds rows is
    backfilled from the raw table before its view starts taking new inserts."""
    existing = _tables(wh)
    for s in streams:
        for rollup in s.rollups:
            for res in RESOLUTIONS:
                table = rollup.table(s.name, res)
                if table in existing and f"{table}_mv" in existing:
                    continue
                create_table, create_view = ddl.rollup_tables(s, rollup, res, wh.database, ttl.get(s.name))
                if table not in existing:
                    wh.command(create_table)
                    wh.command(f"INSERT INTO {wh.database}.`{table}` {ddl.rollup_select(s, rollup, res, wh.database)}")
                wh.command(create_view)


def add_rejected_key(wh: Warehouse, streams: Iterable[Stream], ttl: Mapping[str, int]) -> None:
    wh.command(ddl.rejected_key_column(wh.database))


MIGRATIONS = (
    Migration(1, "raw tables and the rejected table", sync_raw_tables),
    Migration(2, "per-second and per-minute rollups, backfilled", sync_rollups),
    Migration(3, "rejected rows name the API key that sent them", add_rejected_key),
)
LATEST = MIGRATIONS[-1].version


def applied_versions(wh: Warehouse) -> list[int]:
    wh.command(
        f"CREATE TABLE IF NOT EXISTS {wh.database}.{MIGRATIONS_TABLE} "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY version"
    )
    return sorted(r[0] for r in wh.query(f"SELECT DISTINCT version FROM {wh.database}.{MIGRATIONS_TABLE}").result_rows)


def migrate(wh: Warehouse, streams: Iterable[Stream], ttl: Mapping[str, int] | None = None, upto: int = LATEST) -> list[int]:
    """Apply pending migrations up to `upto`, then (at the latest version) sync every declared
    stream. Returns the versions applied now."""
    streams = list(streams)
    ttl = ttl or {}
    done = set(applied_versions(wh))
    applied = []
    for m in MIGRATIONS:
        if m.version > upto or m.version in done:
            continue
        log.info("applying schema migration %d: %s", m.version, m.name)
        m.apply(wh, streams, ttl)
        wh.command(
            f"INSERT INTO {wh.database}.{MIGRATIONS_TABLE} (version, name) VALUES ({m.version}, {{n:String}})",
            parameters={"n": m.name},
        )
        applied.append(m.version)
    if upto >= LATEST:
        # Streams declared since (a user's new stream, new fields) get their tables now.
        sync_raw_tables(wh, streams, ttl)
        sync_rollups(wh, streams, ttl)
    return applied
