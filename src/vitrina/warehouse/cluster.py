"""The engine policy of a ClickHouse cluster (`[warehouse] cluster = "NAME"`): the same objects
as on one server, made ON CLUSTER with Replicated engines, and read through `_all` twins.

Where each table lives, and why (docs/DEPLOYMENT.md, "Cluster", has the reasoning and the
ClickHouse documentation it relies on):

- **Sharded**: raw tables, `rejected` and the rollups. Each shard holds its part in a
  Replicated table (Keeper path `/clickhouse/tables/{shard}/DB/TABLE`); `TABLE_all`
  (Distributed) reaches every shard. Loaders insert into `TABLE_all` with the stream's
  sharding key and `distributed_foreground_insert = 1`: the insert returns once every shard's
  part is written, and a replay of the batch (same rows, same token) splits the same way, so
  each shard drops its part of it by the token. A rollup's materialized view reads its shard's
  raw table and writes its shard's rollup: rollups are sharded as their raw table is.
- **On every node**: the bookkeeping tables (migrations, batch plans, model runs, alert
  samples) and the models. One Replicated table per object whose Keeper path has no shard
  (`/clickhouse/tables/all/DB/TABLE`), so every node is a replica and holds all of it;
  `TABLE_all` is a plain view of the local replica, so every read names `_all` alike. A model
  run computes into a scratch MergeTree table on the node it is connected to and swaps the days
  in with REPLACE PARTITION, which replication carries to every other node.
- **Scratch**: a model's staging table and the loaders' Null copies live only on the node that
  made them, for the time of one operation.
"""

from __future__ import annotations

import re

from vitrina.streams.declare import Rollup, Stream
from vitrina.warehouse import ddl
from vitrina.warehouse.engine import EnginePolicy

# How long a block id is remembered, besides the last DEDUP_WINDOW of them: a week, the Kafka
# retention of the deploy files and so the oldest batch a loader can replay.
DEDUP_WINDOW_SECONDS = 7 * 24 * 3600
_TEMPLATE_TABLE = re.compile(r"\$db\.(`?)(\w+)\1")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # remote_servers names; ClickHouse forbids dots in them
# Inserts into the sharded tables: synchronous through the Distributed table (the insert is
# answered once each shard's replica wrote its part, so a loader commits only what is stored),
# and acknowledged by a majority of each shard's replicas (a part on one disk only is lost with
# it, while the offsets would already be committed).
SHARDED_INSERT = {"distributed_foreground_insert": 1, "insert_quorum": "auto"}
# The batch plans must be visible to the next owner of a partition, wherever it connects:
# written with a sequential quorum, read from replicas that have every quorum write.
PLANS_INSERT = {"insert_quorum": "auto", "insert_quorum_parallel": 0}
PLANS_READ = {"select_sequential_consistency": 1}


class ClusterPolicy(EnginePolicy):
    def __init__(self, database: str, cluster: str) -> None:
        if not _NAME.match(cluster):
            raise ValueError(f"[warehouse] cluster {cluster!r}: a remote_servers name (letters, digits, _ and -)")
        super().__init__(database)
        self.cluster = cluster

    @staticmethod
    def sharded(table: str) -> bool:
        """Raw tables, `rejected`, rollups: every table whose name a stream could have."""
        return not table.startswith("_")

    # -- names ------------------------------------------------------------------------------

    def read(self, table: str) -> str:
        return f"{table}_all"

    def reads(self, template: str) -> str:
        return _TEMPLATE_TABLE.sub(lambda m: f"$db.{m[1]}{self.read(m[2])}{m[1]}", template)

    def write(self, table: str) -> str:
        return f"{table}_all" if self.sharded(table) else table

    def insert_settings(self, table: str) -> dict[str, object]:
        if self.sharded(table):
            return dict(SHARDED_INSERT)
        return dict(PLANS_INSERT) if table == ddl.PLANS_TABLE else {}

    def read_settings(self, table: str) -> dict[str, object]:
        return dict(PLANS_READ) if table == ddl.PLANS_TABLE else {}

    # -- what differs on a cluster ----------------------------------------------------------

    def _on(self, ref: str) -> str:
        return f"{ref} ON CLUSTER `{self.cluster}`"

    def _engine(self, table: str, family: str, *, everywhere: bool = False) -> str:
        # Explicit names rather than {database}/{table}: the path must not follow a RENAME,
        # and a DBA reading `vitrina ddl schema` sees where each table lives in Keeper.
        if everywhere:
            return f"Replicated{family}('/clickhouse/tables/all/{self.database}/{table}', '{{shard}}-{{replica}}')"
        return f"Replicated{family}('/clickhouse/tables/{{shard}}/{self.database}/{table}', '{{replica}}')"

    def _dedup(self) -> str:
        return f"replicated_deduplication_window = {ddl.DEDUP_WINDOW}, replicated_deduplication_window_seconds = {DEDUP_WINDOW_SECONDS}"

    def _twin(self, table: str, shard_key: str | None) -> list[str]:
        key = f", {shard_key}" if shard_key else ""  # none for rollups: their views place them
        engine = f"Distributed('{self.cluster}', '{self.database}', '{table}'{key})"
        return [f"CREATE TABLE IF NOT EXISTS {self._on(self.q(table + '_all'))} AS {self.q(table)}\nENGINE = {engine}"]

    def _view_twin(self, table: str) -> list[str]:
        return [f"CREATE VIEW IF NOT EXISTS {self._on(self.q(table + '_all'))} AS SELECT * FROM {self.q(table)}"]

    def _add_column(self, table: str, column: str, after: str = "") -> list[str]:
        return [f"ALTER TABLE {self._on(self.q(name))} ADD COLUMN IF NOT EXISTS {column}{after}" for name in (table, table + "_all")]

    # -- the schema -------------------------------------------------------------------------

    def rollup_backfill(self, stream: Stream, rollup: Rollup, resolution: str) -> str:
        """Each shard fills its rollup from its own raw rows (both tables Distributed over the
        same cluster: parallel_distributed_insert_select = 2 runs the INSERT SELECT per shard)."""
        table = rollup.table(stream.name, resolution)
        select = ddl.rollup_select(stream, rollup, resolution, self.database, source=self.read(stream.table))
        return f"INSERT INTO {self.q(self.read(table))} {select}\nSETTINGS parallel_distributed_insert_select = 2"

    # -- models -----------------------------------------------------------------------------

    def model_table(self, name: str, time: str, order_by: str, select: str) -> list[str]:
        layout = f"PARTITION BY toYYYYMMDD(`{time}`) ORDER BY ({order_by})"
        engine = self._engine(name, "MergeTree", everywhere=True)
        return [
            f"CREATE TABLE IF NOT EXISTS {self._on(self.q(name))} ENGINE = {engine} {layout} EMPTY AS {select}",
            # a view's columns are fixed when it is made: made again with the table
            f"CREATE OR REPLACE VIEW {self._on(self.q(self.read(name)))} AS SELECT * FROM {self.q(name)}",
        ]

    def drop_model(self, name: str) -> list[str]:
        # SYNC: the replica leaves Keeper now, so the table can be made again at the same path.
        return [f"DROP TABLE IF EXISTS {self._on(self.q(name))} SYNC"]

    def stage_table(self, stage: str, model: str, time: str, order_by: str) -> str:
        # Not `AS model` alone: that would copy the Replicated engine and join the model's path.
        return f"CREATE TABLE {self.q(stage)} AS {self.q(model)} ENGINE = MergeTree PARTITION BY toYYYYMMDD(`{time}`) ORDER BY ({order_by})"

    def sync_replica(self, table: str) -> list[str]:
        return [f"SYSTEM SYNC REPLICA {self.q(table)}"]


def policy_for(database: str, cluster: str | None = None) -> EnginePolicy:
    """The policy `[warehouse] cluster` chooses: one server without it, the cluster's with it."""
    return ClusterPolicy(database, cluster) if cluster else EnginePolicy(database)
