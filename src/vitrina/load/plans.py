"""Batch plans: the recorded end of a Kafka batch that was cut early (by time, not size).

Exactly-once needs a replayed batch to be the same batch: same first and last offset, so the
same insert_deduplication_token. Batches cut by size end on multiples of `batch_rows` and are
reproducible by rule. A batch cut by the time bound is recorded here, in ClickHouse, before
its rows are inserted; after a crash the next owner of the partition looks up the plan for
its committed offset and cuts the first batch exactly there. (Tansu drops offset-commit
metadata, where such a plan would otherwise live.)
"""

from __future__ import annotations

import hashlib
import json

from vitrina.warehouse.client import Warehouse
from vitrina.warehouse.ddl import PLANS_TABLE

__all__ = ["PLANS_TABLE", "Plans", "create_plans_table"]


def create_plans_table(wh: Warehouse) -> None:
    wh.ensure(wh.policy.plans_table())


class Plans:
    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def record(self, plans: list[tuple[str, int, int, int]]) -> None:
        """(topic, partition, first, last) of batches about to be inserted, in one insert."""
        rows = b"".join(b'{"topic":%s,"partition":%d,"first":%d,"last":%d}\n' % (_quote(t), p, f, last) for t, p, f, last in plans)
        token = "plans:" + hashlib.sha1(rows).hexdigest()  # a retried record is not stored twice
        self.wh.insert_json_rows(PLANS_TABLE, rows, token)

    def lookup_many(self, starts: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], int]:
        """Planned last offsets of the batches starting at (topic, partition, first)."""
        if not starts:
            return {}
        rows = self.wh.query(
            f"SELECT topic, partition, first, argMin(last, time) FROM {self.wh.database}.{self.wh.policy.read(PLANS_TABLE)} "
            "WHERE (topic, partition, first) IN {starts:Array(Tuple(String, UInt32, UInt64))} GROUP BY topic, partition, first",
            parameters={"starts": starts},
            settings=self.wh.policy.read_settings(PLANS_TABLE),
        ).result_rows
        return {(str(t), int(p), int(f)): int(last) for t, p, f, last in rows}

    def lookup(self, topic: str, partition: int, first: int) -> int | None:
        """The planned last offset of the batch starting at `first`, if one was recorded.
        Should two exist (a zombie loader), the earliest recorded is the one that may have
        been inserted first."""
        rows = self.wh.query(
            f"SELECT last FROM {self.wh.database}.{self.wh.policy.read(PLANS_TABLE)} "
            "WHERE topic = {t:String} AND partition = {p:UInt32} AND first = {f:UInt64} ORDER BY time LIMIT 1",
            parameters={"t": topic, "p": partition, "f": first},
            settings=self.wh.policy.read_settings(PLANS_TABLE),
        ).result_rows
        return int(rows[0][0]) if rows else None


def _quote(s: str) -> bytes:
    return json.dumps(s).encode()
