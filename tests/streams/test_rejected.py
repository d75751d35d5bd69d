"""The `rejected` table is declared once: the table vitrina creates, the dead letters it writes
and the Kafka-engine queue that feeds it all follow the declaration (checked against chdb)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from vitrina.config import Settings, TransportSettings
from vitrina.core import REJECTED_TABLE
from vitrina.streams.rejected import REJECTED, DeadLetter
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.engine import EnginePolicy
from vitrina.warehouse.kafka_engine import kafka_engine_ddl


def test_the_table_and_the_dead_letters_follow_the_declaration(tmp_folder: Path) -> None:
    wh = Warehouse(parse_dsn(f"chdb://{tmp_folder / 'ch'}", "vitrina"))
    try:
        wh.command("CREATE DATABASE IF NOT EXISTS vitrina")
        for statement in EnginePolicy("vitrina").rejected_table():
            wh.command(statement)
        described = wh.query(f"DESCRIBE TABLE vitrina.{REJECTED_TABLE}").result_rows
        assert [(r[0], r[1]) for r in described] == [(c.name, c.type) for c in REJECTED.columns]
        assert [(r[0], r[3]) for r in described if r[3]] == [
            (c.name, c.ddl.split(" DEFAULT ", 1)[1]) for c in REJECTED.columns if "DEFAULT" in c.ddl
        ]

        # Every written column is a dead letter's field; the one with a default may be left out.
        rows = msgspec.json.Encoder().encode_lines(
            [
                DeadLetter("uploads", "http", "3", "item_id: Expected `int`", '{"item_id":"x"}', "ci"),
                DeadLetter("probes", "kafka", "t/0/9", "bad", "{"),
            ]
        )
        wh.insert_json_rows(REJECTED_TABLE, rows)
        written = [c.name for c in REJECTED.written]
        got = wh.query(
            f"SELECT {', '.join(written)}, time > now64(3) - INTERVAL 1 MINUTE FROM vitrina.{REJECTED_TABLE} ORDER BY stream"
        ).result_rows
        assert [dict(zip([*written, "fresh"], r, strict=True)) for r in got] == [
            {"stream": "probes", "source": "kafka", "key": "", "position": "t/0/9", "reason": "bad", "raw": "{", "fresh": True},
            {
                "stream": "uploads",
                "source": "http",
                "key": "ci",
                "position": "3",
                "reason": "item_id: Expected `int`",
                "raw": '{"item_id":"x"}',
                "fresh": True,
            },
        ]
    finally:
        wh.close()


def test_the_kafka_engine_queue_of_rejected_has_the_written_columns() -> None:
    text = kafka_engine_ddl(TransportSettings(), Settings().streams, "vitrina")
    queue = text[text.index("CREATE TABLE IF NOT EXISTS vitrina.`kafka_vitrina_rejected`") :]
    columns = queue[queue.index("(\n") + 2 : queue.index("\n) ENGINE = Kafka")].split(",\n")
    assert columns == [f"    `{c.name}` {c.wire_type}" for c in REJECTED.written]
    assert [c.wire_type for c in REJECTED.written] == ["String"] * 6
