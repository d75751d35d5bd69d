"""Every statement vitrina sends to an embedded warehouse while it creates and upgrades a
schema, runs the models, keeps alert samples, plans Kafka batches and isolates refused rows;
and the Kafka-engine DDL it prints.

The recording of this scenario made by the version before the engine policy is committed
(`snapshots/embedded_ddl.json`); `test_engine_policy.py` replays it on the current code, so a
data folder that version created keeps upgrading exactly as it did. Regenerate it only for a
deliberate schema change: `python -m tests.warehouse.ddl_scenario > tests/warehouse/snapshots/embedded_ddl.json`.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vitrina.alerts.figures import BUILTIN_FIGURES
from vitrina.alerts.source import SqlFigures
from vitrina.config import TransportSettings
from vitrina.load.plans import create_plans_table
from vitrina.models.db import Db
from vitrina.models.runner import ModelRunner
from vitrina.models.settings import ModelSettings
from vitrina.models.spec import builtin_models
from vitrina.streams.builtin import BUILTIN
from vitrina.streams.declare import parse_stream
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.kafka_engine import kafka_engine_ddl
from vitrina.warehouse.schema import migrate
from vitrina.warehouse.sink import NullCopy

# A user's stream, first as declared, then extended by a field and a rollup.
USER_STREAM = {
    "fields": {"time": {"type": "timestamp"}, "shop": {"type": "string"}, "amount": {"type": "float"}},
    "order_by": ["shop", "time"],
}
USER_STREAM_EXTENDED = {
    **USER_STREAM,
    "fields": {**USER_STREAM["fields"], "region": {"type": "string", "required": False}},  # type: ignore[dict-item]
    "rollups": [{"keys": ["shop"], "aggregates": [{"name": "orders", "function": "count"}]}],
}
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
DAY_1, DAY_2 = 1772409600, 1772496000  # 2026-03-02 and 2026-03-03, 00:00 UTC


@contextmanager
def recording() -> Iterator[list[str]]:
    """Every statement sent through Warehouse.command and Db.command while inside."""
    sent: list[str] = []
    originals = (Warehouse.command, Db.command)

    def wh_command(self: Warehouse, sql: str, **kw: Any) -> Any:
        sent.append(sql)
        return originals[0](self, sql, **kw)

    def db_command(self: Db, sql: str) -> None:
        sent.append(sql)
        originals[1](self, sql)

    Warehouse.command, Db.command = wh_command, db_command  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        Warehouse.command, Db.command = originals  # type: ignore[method-assign]


def _site_rows(*days: int) -> bytes:
    rows = [
        {"dt": day + i * 60, "name": "view", "user_id": i % 3, "url": "https://shop.example/p", "obj": "page"}
        for day in days
        for i in range(5)
    ]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def _models(wh: Warehouse) -> None:
    runner = ModelRunner(Db.of(wh), builtin_models(), ModelSettings())
    wh.insert_json_rows("site_events", _site_rows(DAY_1, DAY_2))
    runner.run(full=True, now=NOW)  # creates every model table, fills two days
    wh.client.command(f"TRUNCATE TABLE {wh.database}.site_events")  # setup, not vitrina's own: not recorded
    wh.insert_json_rows("site_events", _site_rows(DAY_1))
    runner.run(full=True, now=NOW)  # the second day's partitions are dropped
    runner.close()


def run(folder: Path) -> dict[str, Any]:
    with recording() as sent:
        wh = Warehouse(parse_dsn(f"chdb://{folder}"))
        user = parse_stream("orders", USER_STREAM)
        migrate(wh, [*BUILTIN, user], {"metrics": 30, "orders": 7})
        migrate(wh, [*BUILTIN, parse_stream("orders", USER_STREAM_EXTENDED)], {"metrics": 30, "orders": 7})
        create_plans_table(wh)
        check = NullCopy(wh)
        check.prepare("uploads")
        check.finish("uploads")
        _models(wh)
        db = Db.of(wh)
        SqlFigures(db, BUILTIN_FIGURES)
        db.close()
        wh.close()
    transport = replace(TransportSettings(), kafka="kafka:9092", foreign={"item_events": "uploads"})
    streams = {s.name: s for s in (*BUILTIN, parse_stream("orders", USER_STREAM_EXTENDED))}
    return {"statements": sent, "kafka_engine": kafka_engine_ddl(transport, streams, "vitrina")}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        json.dump(run(Path(tmp) / "clickhouse"), sys.stdout, indent=1)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
