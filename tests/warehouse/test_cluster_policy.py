"""The cluster policy's DDL, checked with ClickHouse's own parser (chdb's `formatQuery` and
`EXPLAIN AST`) and for its shape: every table Replicated, made ON CLUSTER, with an `_all` twin
over the cluster the deploy files define. No cluster runs here: nothing of it is executed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.warehouse.clickhouse_parser import Parser
from vitrina.config import TransportSettings
from vitrina.core import REJECTED_TABLE
from vitrina.deploy.topology import CLUSTER
from vitrina.models.runner import model_tables
from vitrina.models.settings import ModelSettings
from vitrina.models.spec import builtin_models
from vitrina.streams.builtin import BUILTIN
from vitrina.streams.declare import RESOLUTIONS, parse_stream
from vitrina.warehouse.cluster import ClusterPolicy
from vitrina.warehouse.ddl import BOOKKEEPING
from vitrina.warehouse.engine import EnginePolicy
from vitrina.warehouse.kafka_engine import kafka_engine_ddl
from vitrina.warehouse.schema import schema_statements
from vitrina.warehouse.sql_ast import Node

ROOT = Path(__file__).resolve().parents[2]
POLICY = ClusterPolicy(CLUSTER.database, str(CLUSTER.cluster))
USER_FIELDS = {"time": {"type": "timestamp"}, "shop": {"type": "string"}, "amount": {"type": "float"}}
ROLLUP = {"keys": ["shop"], "aggregates": [{"name": "n", "function": "count"}]}
ORDERS = parse_stream("orders", {"fields": USER_FIELDS, "order_by": ["shop", "time"], "rollups": [ROLLUP]})
VISITS = parse_stream("visits", {"fields": {"user": {"type": "uint"}}, "shard_key": "intHash64(user)"})
STREAMS = [*BUILTIN, ORDERS, VISITS]
_HEAD = re.compile(r"^(CREATE (?:OR REPLACE )?(?:TABLE|VIEW|MATERIALIZED VIEW|DATABASE)) (?:IF NOT EXISTS )?(\S+) ON CLUSTER (\S+)")


@pytest.fixture(scope="module")
def parser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parser]:
    p = Parser(tmp_path_factory.mktemp("parser"))
    yield p
    p.close()


def schema(policy: EnginePolicy) -> list[str]:
    return schema_statements(policy, STREAMS, {"metrics": 30}) + model_tables(builtin_models(), policy, ModelSettings())


def kafka_statements(policy: EnginePolicy) -> list[str]:
    transport = TransportSettings(kafka="kafka-1:9092", foreign={"item_events": "uploads"})
    text = kafka_engine_ddl(transport, {s.name: s for s in STREAMS}, "vitrina", policy=policy)
    out = []
    for chunk in text.split(";\n"):
        sql = "\n".join(line for line in chunk.splitlines() if not line.startswith("--")).strip()
        if sql:
            out.append(sql)
    return out


def every_statement(policy: EnginePolicy) -> list[str]:
    """The schema and every other statement the policy builds: upgrades, backfills, a model
    run's statements, the loaders' Null copy, the Kafka-engine DDL."""
    out = schema(policy)
    region = {"type": "string", "required": False}
    extended = parse_stream("orders", {"fields": {**USER_FIELDS, "region": region}, "order_by": ["shop", "time"]})
    out += policy.add_columns(extended, set(USER_FIELDS)) + policy.rejected_key_column()
    out += [policy.rollup_backfill(s, r, res) for s in STREAMS for r in s.rollups for res in RESOLUTIONS]
    for m in builtin_models()[:2]:
        out += policy.drop_model(m.name) + policy.sync_replica(m.name)
        out += [policy.stage_table(f"_stage_{m.name}", m.name, m.time, m.order_by), policy.drop_scratch(f"_stage_{m.name}")]
        out += [policy.replace_partition(m.name, "20260302", f"_stage_{m.name}"), policy.drop_partition(m.name, "20260303")]
    out += [policy.null_copy("uploads", "_vitrina_check_uploads"), policy.drop_scratch("_vitrina_check_uploads")]
    return out + kafka_statements(policy)


def test_every_cluster_statement_passes_clickhouses_parser(parser: Parser) -> None:
    statements = every_statement(POLICY)
    assert len(statements) > 150
    for sql in statements:
        try:
            parser.format(sql)
        except Exception as exc:
            pytest.fail(f"ClickHouse cannot parse:\n{sql}\n{exc}")
    with pytest.raises(Exception, match="SYNTAX_ERROR"):
        parser.format(POLICY.raw_table(ORDERS)[0].replace("ON CLUSTER", "ON CLUSTR"))


def _storage(tree: Node) -> tuple[str, list[str]]:
    """The engine of a CREATE TABLE and its arguments as ClickHouse parsed them."""
    for node, parent in tree.walk():
        if node.kind == "Function" and parent is not None and (parent.kind, parent.text) == ("Storage", "definition"):
            args = node.children[0].children if node.children else []
            return node.name, [a.text.strip("'") if a.kind == "Literal" else a.kind for a in args]
    return "", []


def _remote_servers() -> list[str]:
    config = ET.parse(ROOT / "deploy" / "cluster" / "clickhouse" / "config.d" / "vitrina.xml").getroot()
    servers = config.find("remote_servers")
    assert servers is not None
    return [c.tag for c in servers]


def shape_problems(parser: Parser, statements: list[str], cluster: str) -> list[str]:
    """What makes `statements` not a cluster schema: every object made ON CLUSTER `cluster`;
    every table Replicated at its own Keeper path; every table with an `_all` twin, Distributed
    over `cluster` for a sharded table (with a sharding key for raw tables and `rejected`), a
    view of the local replica for one held on every node."""
    made: dict[str, tuple[str, str]] = {}
    problems = []
    for sql in statements:
        text = parser.format(sql)
        head = _HEAD.match(text.split("\n", 1)[0])
        if head is None or head[3].strip("`") != cluster:
            problems.append(f"not made ON CLUSTER {cluster}: {text.splitlines()[0]}")
            continue
        made[head[2].split(".")[-1]] = (head[1], sql)
    paths: set[str] = set()
    for name, (kind, sql) in made.items():
        if kind != "CREATE TABLE" or name.endswith("_all"):
            continue
        engine, args = _storage(parser.ast(sql))
        problems += _table_problems(name, engine, args, paths)
        problems += _twin_problems(parser, name, args, made.get(f"{name}_all"), cluster)
    return problems


def _table_problems(name: str, engine: str, args: list[str], paths: set[str]) -> list[str]:
    if not engine.startswith("Replicated") or len(args) < 2:
        return [f"{name}: engine {engine}{args} is not Replicated"]
    problems = [f"{name}: a Keeper path shared with another table"] if args[0] in paths else []
    paths.add(args[0])
    where = (f"/clickhouse/tables/{{shard}}/vitrina/{name}", f"/clickhouse/tables/all/vitrina/{name}")
    if args[0] not in where or "{replica}" not in args[1]:
        problems.append(f"{name}: Keeper path {args[0]!r}, replica {args[1]!r}")
    return problems


def _twin_problems(parser: Parser, name: str, args: list[str], twin: tuple[str, str] | None, cluster: str) -> list[str]:
    if twin is None or not args:
        return [f"{name}: no {name}_all"] if twin is None else []
    kind, sql = twin
    if "{shard}" not in args[0]:  # on every node: the twin is a view of the local replica
        ok = kind.endswith("VIEW") and parser.tables_read(sql) == [f"vitrina.{name}"]
        return [] if ok else [f"{name}_all: not a view of vitrina.{name}"]
    engine, dist = _storage(parser.ast(sql))
    keyed = name in {s.table for s in STREAMS} | {REJECTED_TABLE}
    if engine != "Distributed" or dist[:3] != [cluster, "vitrina", name] or (len(dist) == 4) != keyed:
        return [f"{name}_all: {engine}{dist}, not Distributed over {cluster}" + (" with a sharding key" if keyed else "")]
    return []


def test_every_table_of_the_cluster_schema_is_replicated_with_an_all_twin_on_the_deploy_cluster(parser: Parser) -> None:
    assert _remote_servers() == [CLUSTER.cluster]  # the cluster the deploy files configure
    statements = schema(POLICY)
    assert shape_problems(parser, statements, str(CLUSTER.cluster)) == []
    made = {_HEAD.match(parser.format(s))[2].split(".")[-1] for s in statements}  # type: ignore[index]
    for s in STREAMS:
        rollups = {r.table(s.name, res) for r in s.rollups for res in RESOLUTIONS}
        assert {s.table, f"{s.table}_all", *rollups, *(f"{t}_all" for t in rollups), *(f"{t}_mv" for t in rollups)} <= made
    assert {*BOOKKEEPING, REJECTED_TABLE, *(m.name for m in builtin_models())} <= made
    # what the check catches: the single-server schema, and a twin over another cluster
    assert len(shape_problems(parser, schema(EnginePolicy("vitrina")), "vitrina")) == len(schema(EnginePolicy("vitrina")))
    other = [sql.replace("Distributed('vitrina'", "Distributed('other'") for sql in statements]
    assert any("not Distributed over vitrina" in p for p in shape_problems(parser, other, "vitrina"))


def test_views_aggregate_their_shards_raw_table_into_their_shards_rollup(parser: Parser) -> None:
    for s in STREAMS:
        for r in s.rollups:
            for res in RESOLUTIONS:
                view = POLICY.rollup_view(s, r, res)
                assert f" TO vitrina.`{r.table(s.name, res)}` AS" in view
                assert parser.tables_read(view.split(" AS\n", 1)[1]) == [f"vitrina.{s.table}"]
                assert parser.tables_read(POLICY.rollup_backfill(s, r, res)) == [f"vitrina.{s.table}_all"]


def test_shard_keys_are_declared_per_stream_with_a_default(parser: Parser) -> None:
    keys = {s.name: s.sharding_key for s in STREAMS}
    assert keys["uploads"] == "intHash64(item_id)"
    assert keys["site_events"] == keys["store_events"] == "intHash64(user_id)"
    assert keys["orders"] == "cityHash64(shop, time)"  # the default: the whole sort key
    assert keys["visits"] == "intHash64(user)"  # from the TOML declaration
    for s in STREAMS:  # a function of the row as sent, evaluated on the columns a row has
        twin = POLICY.raw_table(s)[1]
        assert twin.endswith(f", {s.sharding_key})")
        columns = {n.name for n, _ in parser.ast(f"SELECT {s.sharding_key}").walk() if n.kind == "Identifier"}
        assert columns <= {f.name for f in s.fields}, (s.name, columns)
