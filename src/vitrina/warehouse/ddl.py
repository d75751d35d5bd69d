"""The names of vitrina's own tables, and the parts of their DDL derived from the stream
declarations (columns, the rollup aggregation). The statements themselves are built by the
engine policy (`engine.py`, `cluster.py`)."""

from __future__ import annotations

from vitrina.streams.declare import RESOLUTIONS, Rollup, Stream
from vitrina.streams.rejected import REJECTED

# The name of the API key that sent a rejected item ('' without [auth], or for the loaders' own).
REJECTED_KEY_TYPE = REJECTED.column("key").ddl
# Deduplication window for tokens of retried inserts: a replay within this many later inserts
# into the same table is dropped (docs/TRANSPORTS.md, "Exactly-once loading").
DEDUP_WINDOW = 10_000

# Bookkeeping: names with a leading underscore, which no stream can have (streams/declare.py).
MIGRATIONS_TABLE = "_vitrina_migrations"
PLANS_TABLE = "_vitrina_loader_plans"  # load/plans.py
RUNS_TABLE = "_model_runs"  # models/state.py
SAMPLES_TABLE = "_alert_samples"  # alerts/source.py
BOOKKEEPING = (MIGRATIONS_TABLE, PLANS_TABLE, RUNS_TABLE, SAMPLES_TABLE)

REJECTED_COLUMNS = ",\n".join(f"    `{c.name}` {c.ddl}" for c in REJECTED.columns)
# Where a rejected row is kept on a cluster: a function of the row itself, so that a replayed
# batch sends every row to the shard it went to the first time (its token is then dropped there).
REJECTED_SHARD_KEY = "cityHash64(stream, source, position, raw)"
MIGRATIONS_COLUMNS = "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))"
PLANS_COLUMNS = (
    "(\n    `topic` String, `partition` UInt32, `first` UInt64, `last` UInt64,\n    `time` DateTime64(3, 'UTC') DEFAULT now64(3)\n)"
)
RUNS_COLUMNS = (
    "(name String, mode LowCardinality(String), run_at DateTime64(3, 'UTC'), started DateTime64(3, 'UTC'), "
    "window_start DateTime64(3, 'UTC'), rows UInt64, duration_s Float64, status LowCardinality(String), error String)"
)
SAMPLES_COLUMNS = "(time DateTime64(6, 'UTC'), figure LowCardinality(String), labels String, value Float64)"


def ttl_clause(stream: Stream, ttl_days: int | None) -> str:
    days = ttl_days if ttl_days is not None else stream.ttl_days
    if not days:
        return ""
    return f"\nTTL toDateTime({stream.time_sql}) + INTERVAL {int(days)} DAY"


def raw_columns(stream: Stream) -> str:
    cols = [f"    `{f.name}` {f.clickhouse_type()}" for f in stream.fields]
    cols += [f"    `{name}` {typ} MATERIALIZED {expr}" for name, typ, expr in stream.derived]
    cols.append("    `_received` DateTime64(3, 'UTC') DEFAULT now64(3)")
    return ",\n".join(cols)


def new_columns(stream: Stream, existing: set[str]) -> list[str]:
    """Column definitions for fields declared after the table was created (a user extends a stream)."""
    out = [f"`{f.name}` {f.clickhouse_type()}" for f in stream.fields if f.name not in existing]
    out += [f"`{name}` {typ} MATERIALIZED {expr}" for name, typ, expr in stream.derived if name not in existing]
    return out


def rollup_select(stream: Stream, rollup: Rollup, resolution: str, database: str, source: str | None = None) -> str:
    """The aggregation a materialized view runs on every inserted block (and a backfill runs
    once over existing rows, from `source`: the raw table unless named)."""
    bucket = f"toDateTime({RESOLUTIONS[resolution]}({stream.time_sql}), 'UTC') AS t"
    keys = [f"{expr} AS `{name}`" for name, expr in rollup.keys]
    states = [f"{a.state_sql()} AS `{a.name}`" for a in rollup.aggregates]
    group = ", ".join(["t", *(f"`{name}`" for name, _ in rollup.keys)])
    where = f"\nWHERE {rollup.where}" if rollup.where else ""
    frm = source or stream.table
    return "SELECT " + ", ".join([bucket, *keys, *states]) + f"\nFROM {database}.`{frm}`{where}\nGROUP BY {group}"


def rollup_order(rollup: Rollup) -> str:
    return ", ".join(["t", *(f"`{name}`" for name, _ in rollup.keys)])


def rollup_ttl(stream: Stream, ttl_days: int | None) -> str:
    days = ttl_days if ttl_days is not None else stream.ttl_days
    return f"\nTTL toDateTime(t) + INTERVAL {int(days)} DAY" if days else ""
