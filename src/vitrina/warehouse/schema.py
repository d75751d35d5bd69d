"""Schema management: versioned migrations recorded in the warehouse, then a sync that makes
the tables match the stream declarations. Both are idempotent, so `vitrina up` on an existing
data folder upgrades it. Every statement comes from the warehouse's engine policy."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from vitrina.streams.declare import RESOLUTIONS, Stream
from vitrina.warehouse.client import Warehouse
from vitrina.warehouse.ddl import MIGRATIONS_TABLE
from vitrina.warehouse.engine import EnginePolicy

log = logging.getLogger(__name__)

__all__ = ["LATEST", "MIGRATIONS", "MIGRATIONS_TABLE", "migrate", "schema_statements"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Warehouse, Iterable[Stream], Mapping[str, int]], None]


def _columns(wh: Warehouse, table: str) -> set[str]:
    rows = wh.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        parameters={"db": wh.database, "t": table},
    ).result_rows
    return {r[0] for r in rows}


def sync_raw_tables(wh: Warehouse, streams: Iterable[Stream], ttl: Mapping[str, int]) -> None:
    wh.ensure(wh.policy.rejected_table())
    existing = wh.tables()
    for s in streams:
        if s.table in existing:
            for alter in wh.policy.add_columns(s, _columns(wh, s.table)):
                log.info("extending %s: %s", s.table, alter)
                wh.command(alter)
        wh.ensure(wh.policy.raw_table(s, ttl.get(s.name)))


def sync_rollups(wh: Warehouse, streams: Iterable[Stream], ttl: Mapping[str, int]) -> None:
    """Create missing rollups; a rollup added to a stream that already holds rows is
    backfilled from the raw table before its view starts taking new inserts."""
    existing = wh.tables()
    for s in streams:
        for rollup in s.rollups:
            for res in RESOLUTIONS:
                new = rollup.table(s.name, res) not in existing
                wh.ensure(wh.policy.rollup_table(s, rollup, res, ttl.get(s.name)))
                if new:
                    wh.command(wh.policy.rollup_backfill(s, rollup, res))
                wh.ensure([wh.policy.rollup_view(s, rollup, res)])


def add_rejected_key(wh: Warehouse, streams: Iterable[Stream], ttl: Mapping[str, int]) -> None:
    for alter in wh.policy.rejected_key_column():
        wh.command(alter)


MIGRATIONS = (
    Migration(1, "raw tables and the rejected table", sync_raw_tables),
    Migration(2, "per-second and per-minute rollups, backfilled", sync_rollups),
    Migration(3, "rejected rows name the API key that sent them", add_rejected_key),
)
LATEST = MIGRATIONS[-1].version


def applied_versions(wh: Warehouse) -> list[int]:
    wh.ensure(wh.policy.migrations_table())
    rows = wh.query(f"SELECT DISTINCT version FROM {wh.database}.{wh.policy.read(MIGRATIONS_TABLE)}").result_rows
    return sorted(r[0] for r in rows)


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


def schema_statements(policy: EnginePolicy, streams: Iterable[Stream], ttl: Mapping[str, int] | None = None) -> list[str]:
    """Every statement that makes an empty schema of the latest version, in order (what
    `migrate` and the loaders, models and alerts create on a new warehouse; for a DBA)."""
    ttl = ttl or {}
    streams = list(streams)
    out = [*policy.create_database(), *policy.migrations_table(), *policy.plans_table()]
    out += [*policy.model_runs_table(), *policy.alert_samples_table(), *policy.rejected_table()]
    for s in streams:
        out += policy.raw_table(s, ttl.get(s.name))
    for s in streams:
        for rollup in s.rollups:
            for res in RESOLUTIONS:
                out += [*policy.rollup_table(s, rollup, res, ttl.get(s.name)), policy.rollup_view(s, rollup, res)]
    return out
