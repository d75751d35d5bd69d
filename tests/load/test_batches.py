"""Turning log messages into rows and dead letters; the transport settings; the Kafka-engine DDL."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitrina.cli.main import app
from vitrina.config import ConfigError, load_settings
from vitrina.intake.validate import StreamValidator
from vitrina.load.commit import Batch
from vitrina.load.prepare import prepare
from vitrina.log.naming import routes
from vitrina.streams.builtin import BUILTIN

METRICS = next(s for s in BUILTIN if s.name == "metrics")
NOW_NS = 1_763_800_000_000_000_000


def _prepare(values: list[bytes], trusted: list[bool]) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    out = prepare(Batch("metrics", "t", source="kafka"), StreamValidator(METRICS), values, trusted, lambda i: f"t/0/{i}", NOW_NS)
    rows = [json.loads(line) for line in out.rows.splitlines()]
    dead = [json.loads(line) for line in out.dead.splitlines()]
    assert out.count == len(rows) and out.dead_count == len(dead)
    return rows, dead


def test_trusted_rows_pass_as_they_are() -> None:
    rows, dead = _prepare([b'{"metric_name":"a","metric_value":1.0,"time":"1763800000.000"}'], [True])
    assert rows == [{"metric_name": "a", "metric_value": 1.0, "time": "1763800000.000"}] and not dead


def test_foreign_messages_are_validated_and_poison_is_a_dead_letter() -> None:
    values = [
        b'{"metric_name":"a","metric_value":1}',
        b'{"metric_name":"b"',  # malformed
        b'{"metric_name":"c","metric_value":"x"}',  # wrong type
        b'[{"metric_name":"d","metric_value":2},{"metric_name":"e","metric_value":3}]',  # an array message
        b'{"metric_name":"f","metric_value":4}\n{"metric_name":"g","metric_value":5}\n',  # JSONEachRow lines
    ]
    rows, dead = _prepare(values, [False] * 5)
    assert [r["metric_name"] for r in rows] == ["a", "d", "e", "f", "g"]
    assert [(d["position"], d["raw"]) for d in dead] == [("t/0/1", '{"metric_name":"b"'), ("t/0/2", values[2].decode())]
    assert "malformed JSON" in str(dead[0]["reason"]) and str(dead[1]["reason"]).startswith("metric_value:")
    assert all(d["stream"] == "metrics" and d["source"] == "kafka" for d in dead)


def test_fast_path_keeps_message_positions() -> None:
    values = [b'{"metric_name":"a","metric_value":1}', b'{"metric_name":"b","metric_value":null}']
    rows, dead = _prepare(values, [False, False])
    assert [r["metric_name"] for r in rows] == ["a"]
    assert [d["position"] for d in dead] == ["t/0/1"]
    # a missing time is the message's (the batch's) broker time: the same on every replay
    assert str(rows[0]["time"]).startswith("1763800000")


def test_transport_settings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[transport]\nkind = "kafka"\ntopic_prefix = "p."\n'
        '[transport.topics]\nuploads = "item_events"\n[transport.foreign]\nmetrics_raw = "quotes"\n'
    )
    t = load_settings(path).transport
    r = routes(t, ["uploads", "metrics", "quotes"])
    assert r["item_events"].stream == "uploads" and r["p.metrics"].stream == "metrics" and r["p.rejected"].stream == "rejected"
    assert r["metrics_raw"].stream == "quotes" and r["metrics_raw"].foreign
    with pytest.raises(ConfigError, match="no such stream"):
        routes(replace(t, foreign={"x": "nope"}), ["uploads"])
    path.write_text('[transport]\nkind = "pigeon"\n')
    with pytest.raises(ConfigError, match="kind must be"):
        load_settings(path)
    path.write_text("[transport]\nbogus = 1\n")
    with pytest.raises(ConfigError, match="unknown settings"):
        load_settings(path)


def test_kafka_engine_ddl_has_the_caveat_and_every_topic(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[transport.foreign]\nitem_events = "uploads"\n')
    result = CliRunner().invoke(app, ["ddl", "kafka-engine", "--config", str(path), "--kafka", "k1:9092"])
    assert result.exit_code == 0, result.output
    ddl = result.output
    assert "AT-LEAST-ONCE" in ddl
    assert ddl.count("ENGINE = Kafka") == len(BUILTIN) + 2  # every stream's topic, the rejected one, the foreign one
    assert "kafka_topic_list = 'item_events'" in ddl and "kafka_broker_list = 'k1:9092'" in ddl
    assert "TO vitrina.`uploads`" in ddl and "TO vitrina.`rejected`" in ddl
